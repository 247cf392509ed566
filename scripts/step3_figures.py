"""How much Slack shows for one complete Step 3 session: top-level posts in the plan channel, and every form opened
(blocks, inputs), longest first. Run: ``.venv/bin/python -m scripts.step3_figures``."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

from sandbox.payloads import CHANNEL
from sandbox.slack_api import FakeSlack
from tests.support import answers
from tests.support.harness import BotHarness, FakeClock


def main() -> None:
    with tempfile.TemporaryDirectory() as directory, FakeSlack() as fake:
        bot = BotHarness(fake, f"sqlite:///{directory}/figures.db", FakeClock(datetime(2026, 11, 27, 10, tzinfo=UTC)))
        try:
            bot.command("step3")
            answers.answer_all(bot)
            bot.click(bot.hub(), "review_save")
            bot.click(bot.synthesis(), "confirm_save")
            bot.executor.wait_idle()
        finally:
            bot.close()
        top = [m for m in fake.messages(CHANNEL) if m.get("thread_ts") in (None, m.get("ts"))]
        print(f"top-level posts in the plan channel: {len(top)}")
        views = [call.args["view"] for method in ("views.open", "views.update") for call in fake.calls_to(method)]
        sizes = {
            (len(v["blocks"]), sum(b["type"] == "input" for b in v["blocks"]), v["title"]["text"]): None for v in views
        }
        for blocks, inputs, title in sorted(sizes, reverse=True):
            print(f"form {title!r}: {blocks} blocks, {inputs} inputs")


if __name__ == "__main__":
    main()
