"""The sandbox in a real browser: what a person does in the page, as clicks and keystrokes, against the real bot.

One sandbox (the bot as its own process in HTTP mode, the local Slack, the page) serves the module; each journey works
in a channel of its own. Headless Chromium from Debian's packages, driven by Playwright (no browser download).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from sandbox.run import Options, Sandbox, running
from sandbox.workspace import PEOPLE
from tests.support.answers import HEALTH, MILESTONES, TRAINING
from tests.support.page import (
    answer,
    fill,
    open_message_menu,
    open_milestone,
    open_section,
    review_and_save,
    run_scheduler,
    search_and_pick,
    start_step3,
    type_in_composer,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    if os.environ.get("REQUIRE_BROWSER"):
        raise RuntimeError("Chromium is required here (REQUIRE_BROWSER is set): apt-get install chromium")
    pytest.skip("no Chromium: apt-get install chromium (.ci/run installs it)", allow_module_level=True)

ALICE, BOB = PEOPLE[0].id, PEOPLE[1].id
# One worker runs them all: they share the module's sandbox (one bot process, one browser).
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("sandbox-browser")]


@pytest.fixture(scope="session")  # other modules may run between these tests: start once
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with running(Options(port=0, directory=tmp_path_factory.mktemp("sandbox"))) as started:
        yield started


@pytest.fixture(scope="session")  # other modules may run between these tests: start once
def browser() -> Iterator[Any]:
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def channel(sandbox: Sandbox, request: pytest.FixtureRequest) -> str:
    """A channel of its own for each journey (the sandbox's workspace is shared by the module)."""
    for person in PEOPLE:  # modals are per person, not per channel: the journey before may have left one open
        for view in sandbox.fake.modal_stack(person.id)[:1]:
            sandbox.fake.close_view(view["id"])
    count = len(sandbox.fake.channels)
    channel_id = f"C0JOURNEY{count:02d}"
    sandbox.fake.add_channel(channel_id, name=f"journey-{count}", members=[p.id for p in PEOPLE])
    return channel_id


@pytest.fixture
def page(browser: Any, sandbox: Sandbox, channel: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    opened.goto(f"{sandbox.url}/?user={ALICE}&channel={channel}")
    yield opened
    context.close()
    assert sandbox.fake.take_problems() == [], "Slack would have rejected these calls"


def wait_for(condition: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_step3_from_the_composer_to_the_saved_document(page: Any) -> None:
    start_step3(page)
    answer(page, "milestones", MILESTONES)
    # A wrong weights total: the form stays open with the error under the field, then takes the correction.
    open_section(page, "health")
    fill(page, {**HEALTH, "weights.adoption": 30})
    page.locator(".sb-modal .sb-submit").click()
    error = page.locator(".sb-modal .bk-has-error .bk-error").first
    expect(error).to_be_visible()
    expect(error).to_contain_text("100")
    fill(page, {"weights.adoption": 40})
    page.locator(".sb-modal .sb-submit").click()
    expect(page.locator(".sb-modal")).to_have_count(0)
    answer(page, "training", TRAINING)

    page.locator('.msg [data-action-id="review_save"]').last.click()
    page.locator('.msg [data-action-id="confirm_save"]').last.click()
    document = page.locator(".msg-file a").last
    expect(document).to_be_visible()
    with page.context.expect_page() as opened:
        document.click()
    saved = opened.value
    expect(saved.locator("pre")).to_contain_text("Kickoff held")
    expect(saved.locator("pre")).to_contain_text("Weighted mean of the factors")


def test_the_time_zone_is_found_by_typing_and_saved(page: Any) -> None:
    start_step3(page)
    open_section(page, "health")
    zone = page.locator('.sb-modal .bk-input[data-block-id="timezone"] input.bk-external')
    expect(zone).to_have_value("Europe/Berlin")  # where the sandbox's people are, as Slack's users.info says
    zone.click()
    zone.fill("t")
    expect(page.locator(".sb-modal .bk-external-note")).to_have_text("Type at least 2 characters")
    search_and_pick(page, "timezone", "Asia/Tokyo", typed="tokyo")
    fill(page, {k: v for k, v in HEALTH.items() if k != "timezone"})  # adding a factor row redraws the form
    expect(zone).to_have_value("Asia/Tokyo")
    page.locator(".sb-modal .sb-submit").click()
    expect(page.locator(".sb-modal")).to_have_count(0)

    open_section(page, "health")
    expect(zone).to_have_value("Asia/Tokyo")  # the saved zone, not the person's own any more


def test_a_thread_reply_shows_in_the_sections_form(page: Any) -> None:
    start_step3(page)
    thread_post = page.locator(".msg", has_text="discuss this section in this message's thread").first
    open_message_menu(thread_post)
    page.locator("#sb-popup [data-reply]").click()
    reply = page.locator("#sb-thread textarea")
    reply.fill("The sponsor wants the kickoff in week one")
    reply.press("Enter")
    expect(page.locator("#sb-thread .msg", has_text="kickoff in week one")).to_be_visible()
    page.locator("#sb-thread .sb-close").click()
    modal = wait_for_form_with(page, "milestones", "kickoff in week one")
    expect(modal).to_contain_text("Alice Example")


def wait_for_form_with(page: Any, section: str, text: str) -> Any:
    """The section's form, reopened until the bot has recorded the reply (it hears it through the Events API)."""
    deadline = time.monotonic() + 15
    while True:
        modal = open_section(page, section)
        if text in modal.inner_text() or time.monotonic() > deadline:
            expect(modal).to_contain_text(text)
            return modal
        modal.locator(".sb-close").click()
        page.wait_for_timeout(300)


def test_the_message_shortcut_adds_a_message_to_the_plan(page: Any, sandbox: Sandbox, channel: str) -> None:
    start_step3(page)
    answer(page, "milestones", MILESTONES)
    type_in_composer(page, "Definition of done for kickoff: the sponsor attends")
    message = page.locator(".msg", has_text="the sponsor attends").last
    expect(message).to_be_visible()
    open_message_menu(message)
    page.locator("#sb-popup [data-shortcut=add_to_plan]").click()
    modal = page.locator(".sb-modal")
    expect(modal).to_contain_text("Which answer does this message go into?")
    field = modal.locator('.bk-input[data-block-id="field"] select')
    field.select_option(index=1)
    modal.locator(".sb-submit").click()
    expect(page.locator(".sb-modal")).to_have_count(0)
    chosen = wait_for(lambda: [m for m in sandbox.fake.messages(channel) if "the sponsor attends" in str(m)][1:])
    assert chosen, "the bot announced the change in the channel"


def test_a_milestone_is_removed_from_the_hub_only_once_confirmed(page: Any) -> None:
    start_step3(page)
    answer(page, "milestones", MILESTONES)
    hub = page.locator(".msg", has=page.locator(".bk-header", has_text="Step 3")).last
    # The hub is redrawn after each save is acknowledged: its menu carries the version it shows.
    expect(hub).to_contain_text("2 of 2 answered")
    menu = hub.locator('[data-action-id="remove_milestone"]')
    page.once("dialog", lambda dialog: dialog.dismiss())
    menu.select_option(label="2. First integration live")
    expect(menu).to_have_value("")
    expect(hub).to_contain_text("First integration live")
    page.once("dialog", lambda dialog: dialog.accept())
    menu.select_option(label="2. First integration live")
    expect(hub).not_to_contain_text("First integration live")
    expect(hub).to_contain_text("2. Team trained")


def test_a_csv_file_uploaded_in_the_import_form_is_imported(page: Any, tmp_path: Path) -> None:
    start_step3(page)
    for section, values in (("milestones", MILESTONES), ("health", HEALTH), ("training", TRAINING)):
        answer(page, section, values)
    review_and_save(page)
    type_in_composer(page, "/onboarding import")
    modal = page.locator(".sb-modal")
    expect(modal).to_contain_text("Import a CSV file")
    crm = tmp_path / "crm.csv"
    crm.write_text("id,name,start\ncrm-1,Initech,2026-12-01\ncrm-2,,\n", encoding="utf-8")
    picker = modal.locator('.bk-input[data-block-id="import_file"] input[type=file]')
    picker.set_input_files(str(crm))
    expect(picker).not_to_have_attribute("data-files", "[]")  # uploaded to Slack as soon as it is picked
    modal.locator(".sb-submit").click()
    expect(page.locator(".sb-modal")).to_have_count(0)
    expect(page.locator(".msg", has_text="1 created, 0 updated, 0 unchanged, 1 rejected").last).to_be_visible()


def test_an_alert_after_a_missed_deadline_is_marked_done(page: Any) -> None:
    start_step3(page)
    for section, values in (("milestones", MILESTONES), ("health", HEALTH), ("training", TRAINING)):
        answer(page, section, values)
    review_and_save(page)
    type_in_composer(page, '/onboarding customer add "Acme Corp" start=2026-12-01')
    expect(page.locator(".msg", has_text="Acme Corp").last).to_be_visible()

    run_scheduler(page, "2026-12-09T10:00")
    first_alert = page.locator('.msg:has([data-action-id^="alert_done"])').first
    expect(first_alert).to_be_visible()
    alert = page.locator(f'.msg[data-ts="{first_alert.get_attribute("data-ts")}"]')
    expect(alert).to_contain_text("Acme Corp")
    alert.locator('[data-action-id^="alert_done"]').click()
    form = page.locator(".sb-modal")
    expect(form).to_contain_text("Reached on")  # today, unless the person picks another day
    form.locator(".sb-submit").click()
    expect(page.locator(".sb-modal")).to_have_count(0)
    expect(alert).to_contain_text("Marked done by @Alice Example")
    expect(alert.locator('[data-action-id^="alert_done"]')).to_have_count(0)


def test_an_answer_two_people_changed_at_once_shows_both(page: Any) -> None:
    start_step3(page)
    answer(page, "milestones", MILESTONES)
    open_milestone(page, 0)
    fill(page, {"milestones.0.name": "Kickoff held with the sponsor", "milestones.0.timeline_days": 10})
    page.locator("#sb-user").select_option(BOB)
    expect(page.locator(".sb-modal")).to_have_count(0)  # Bob's screen: Alice's form is hers
    answer(page, "milestones", {"milestones.0.name": "Kickoff held with the champion"})
    page.locator("#sb-user").select_option(ALICE)
    modal = page.locator(".sb-modal")
    expect(modal).to_be_visible()
    fill(page, {"milestones.0.name": "Kickoff held with the sponsor", "milestones.0.timeline_days": 10})
    modal.locator(".sb-submit").click()
    expect(modal).to_contain_text("Bob Example")
    expect(modal).to_contain_text("Saved meanwhile: Kickoff held with the champion")
    name = modal.locator('.bk-input[data-block-id="milestones.0.name"] [data-input]')
    expect(name).to_have_value("Kickoff held with the sponsor")


def test_the_page_says_where_it_is_and_never_leaves_the_machine(sandbox: Sandbox) -> None:
    assert sandbox.url.startswith("http://127.0.0.1:")
    assert Path(sandbox.fake.base_url).parts[1].startswith("127.0.0.1")
