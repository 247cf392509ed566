"""Regenerate the README's screenshots from the sandbox (not a test): the real bot, driven in headless Chromium.

    .venv/bin/python -m scripts.screenshots [--out docs/screenshots]

Needs Debian's chromium (and fonts-noto-color-emoji for emoji). Writes hub, modal, synthesis, alert, health update
and App Home at desktop width, and the channel at phone width (390 px).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import expect, sync_playwright

from sandbox.run import Options, running
from sandbox.workspace import CHANNELS, PEOPLE
from tests.support.answers import HEALTH, MILESTONES, TRAINING
from tests.support.page import answer, fill, open_milestone, run_scheduler, save, start_step3, type_in_composer

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def _shoot(target: Any, path: Path) -> None:
    target.screenshot(path=str(path))
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium")
    if chromium is None:
        parser.error("needs Debian's chromium: apt-get install chromium fonts-noto-color-emoji")
    plan = f"?user={PEOPLE[0].id}&channel={CHANNELS[0].id}"
    with (
        tempfile.TemporaryDirectory() as directory,
        running(Options(port=0, directory=Path(directory))) as sandbox,
        sync_playwright() as driver,
    ):
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport=DESKTOP)
        page.set_default_timeout(15_000)
        page.goto(sandbox.url + plan)
        start_step3(page)

        # Each milestone has its own short form.
        open_milestone(page, 0)
        first = {k: v for k, v in MILESTONES.items() if k.startswith("milestones.0.")}
        fill(page, first)
        page.locator(".sb-modal-body").evaluate("body => { body.scrollTop = 0; }")
        _shoot(page, out / "modal.png")
        save(page)
        answer(page, "milestones", {k: v for k, v in MILESTONES.items() if k not in first})
        answer(page, "health", HEALTH)
        answer(page, "training", TRAINING)
        _shoot(page, out / "hub.png")
        page.locator('.msg [data-action-id="review_save"]').last.click()
        synthesis = page.locator('.msg:has([data-action-id="confirm_save"])').last
        expect(synthesis).to_be_visible()
        page.set_viewport_size({"width": DESKTOP["width"], "height": 2400})  # the whole post, unscrolled
        _shoot(synthesis, out / "synthesis.png")
        page.set_viewport_size(DESKTOP)
        page.locator('.msg [data-action-id="confirm_save"]').last.click()
        expect(page.locator(".msg-file a").last).to_be_visible()

        type_in_composer(page, '/onboarding customer add "Acme Corp" start=2026-12-01')
        expect(page.locator(".msg", has_text="Acme Corp").last).to_be_visible()
        run_scheduler(page, "2026-12-09T10:00")
        alert = page.locator('.msg:has([data-action-id^="alert_done"])').first
        expect(alert).to_be_visible()
        _shoot(alert, out / "alert.png")
        update = page.locator(".msg", has_text="Health update").last
        expect(update).to_be_visible()
        _shoot(update, out / "health-update.png")

        page.locator('[data-nav="home"]').click()
        expect(page.locator(".sb-home")).to_be_visible()
        _shoot(page, out / "app-home.png")

        phone = browser.new_page(viewport=PHONE)
        phone.goto(sandbox.url + plan)
        expect(phone.locator(".msg .bk-header").first).to_be_visible()
        _shoot(phone, out / "channel-phone.png")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
