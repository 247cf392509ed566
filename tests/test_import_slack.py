"""`/onboarding import`: a CSV file uploaded in a form, imported after the ack, reported to its sender only."""

from __future__ import annotations

from typing import Any

from sandbox.payloads import ALICE, BOB, CHANNEL
from tests.support.answers import complete_step3
from tests.support.harness import BotHarness

CUSTOMERS = b"ID;Name;Start;Segment\ncrm-1;Acme Corp;2026-12-01;enterprise\ncrm-2;;2026-12-01;\ncrm-3;Globex;;smb\n"


def _open(bot: BotHarness, user: str = ALICE) -> dict[str, Any]:
    response = bot.command("import", user=user)
    assert response.status == 200 and not response.body, response.body
    return bot.last_view()


def _send(bot: BotHarness, kind: str, name: str, content: bytes, user: str = ALICE) -> Any:
    view = _open(bot, user)
    upload = bot.fake.user_file(user, name, content)
    response = bot.submit(view, {"import_kind": kind, "import_file": [upload]}, user=user)
    bot.executor.wait_idle()
    return response


def _report(bot: BotHarness, user: str = ALICE) -> str:
    return bot.fake.ephemerals_for(CHANNEL, user)[-1]["text"]


def _customers(bot: BotHarness) -> dict[str, tuple[str, int]]:
    with bot.sessions() as session:
        from storage.models import Customer, CustomerMilestone

        return {
            c.external_id: (c.name, session.query(CustomerMilestone).filter_by(customer_id=c.id).count())
            for c in session.query(Customer)
        }


def test_the_form_asks_for_one_csv_file(bot: BotHarness) -> None:
    complete_step3(bot)
    view = _open(bot)
    element = next(b["element"] for b in view["blocks"] if b.get("block_id") == "import_file")
    assert element == {"type": "file_input", "action_id": "value", "filetypes": ["csv"], "max_files": 1}
    assert "`id`" in str(view["blocks"]) and "`observed_at` (optional)" in str(view["blocks"])


def test_customers_are_imported_and_the_rejected_rows_come_back_as_a_file(bot: BotHarness) -> None:
    complete_step3(bot)
    assert _send(bot, "customers", "crm.csv", CUSTOMERS).body == ""
    report = _report(bot)
    assert "*crm.csv* (customers): 2 created, 0 updated, 0 unchanged, 1 rejected." in report
    assert "Row 3, `name`: This is required." in report
    assert _customers(bot) == {"crm-1": ("Acme Corp", 3), "crm-3": ("Globex", 3)}, "with the plan's milestones"
    [rejected] = [u for u in bot.fake.uploads.values() if u["filename"] == "rejected-rows-crm.csv"]
    assert rejected["channel_id"] == "D" + ALICE[1:], "in the importer's DM, not the channel"
    assert rejected["content"].decode().splitlines() == ["row,column,reason", "3,name,This is required."]

    # The same file again changes nothing.
    _send(bot, "customers", "crm.csv", CUSTOMERS)
    assert "0 created, 0 updated, 2 unchanged, 1 rejected." in _report(bot)


def test_signals_are_imported_with_their_source_and_time(bot: BotHarness) -> None:
    complete_step3(bot)
    _send(bot, "customers", "crm.csv", CUSTOMERS)
    signals = (
        b"id,factor,value,observed_at\ncrm-1,adoption,72,2026-11-20T09:00:00Z\ncrm-1,nps,101,\ncrm-9,adoption,5,\n"
    )
    _send(bot, "signals", "week.csv", signals)
    report = _report(bot)
    assert "1 created, 0 updated, 0 unchanged, 2 rejected." in report
    assert "Row 3, `value`" in report and "Row 4, `id`: No customer of this plan has the id “crm-9”." in report
    with bot.sessions() as session:
        from storage.models import Customer, SignalReading

        reading = session.query(SignalReading).one()
        assert (reading.source, reading.observed_at.isoformat()) == ("csv", "2026-11-20T09:00:00+00:00")
        acme = session.query(Customer).filter_by(external_id="crm-1").one()
        assert acme.signals["adoption"] == 72 and acme.signal_times["adoption"] == "2026-11-20T09:00:00+00:00"
        assert acme.scored_at is not None, "rescored with its new value"


def test_a_file_that_cannot_be_imported_changes_nothing_and_says_why(bot: BotHarness) -> None:
    complete_step3(bot)
    _send(bot, "customers", "sheet.csv", b"PK\x03\x04\x00\x00binary")
    assert "was not imported: This is not a CSV file" in _report(bot)
    _send(bot, "customers", "latin.csv", "id,name\ncrm-1,Société\n".encode("latin-1"))
    assert "not UTF-8 text" in _report(bot)
    _send(bot, "signals", "no-value.csv", b"id,factor\ncrm-1,adoption\n")
    assert "has no “value” column" in _report(bot)
    assert _customers(bot) == {}


def test_only_the_senders_own_upload_is_read(bot: BotHarness) -> None:
    complete_step3(bot)
    view = _open(bot)
    bobs = bot.fake.user_file(BOB, "bob.csv", CUSTOMERS)
    bot.submit(view, {"import_kind": "customers", "import_file": [bobs]})
    bot.executor.wait_idle()
    assert "Only a file you uploaded in this form can be imported" in _report(bot)
    forged = {**bot.fake.user_file(ALICE, "mine.csv", CUSTOMERS), "id": "F999999"}
    bot.submit(_open(bot), {"import_kind": "customers", "import_file": [forged]})
    bot.executor.wait_idle()
    assert "could not find the uploaded file" in _report(bot)
    assert bot.fake.take_problems() == ["files.info: file_not_found: no file 'F999999'"]
    assert _customers(bot) == {}
    downloads = [c for c in bot.fake.calls if c.method == "files.info"]
    assert [c.args["file"] for c in downloads] == [bobs["id"], "F999999"], "the bot reads only ids, never URLs"


def test_the_form_needs_one_file_and_a_plan_whose_step3_is_saved(bot: BotHarness) -> None:
    bot.command("step3")
    assert "Customers can only join a plan whose Step 3 is saved" in bot.command("import").json()["text"]
    complete_step3(bot)
    errors = bot.submit(_open(bot), {"import_kind": "customers", "import_file": []}).json()
    assert errors == {"response_action": "errors", "errors": {"import_file": "Upload one CSV file."}}
