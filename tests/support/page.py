"""A person's steps in the sandbox's page (Playwright), shared by the browser tests and scripts/screenshots.py."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect


def type_in_composer(page: Any, text: str) -> None:
    box = page.locator("#sb-composer textarea")
    box.fill(text)
    box.press("Enter")


def fill(page: Any, values: dict[str, Any]) -> None:
    """Answer the open modal's inputs (block_id -> value) as a person would: typing, picking, ticking."""
    modal = page.locator(".sb-modal")
    rows = max((int(k.split(".")[1]) + 1 for k in values if k.startswith("custom_factors.")), default=0)
    while modal.locator('.bk-input[data-block-id$=".name"][data-block-id^="custom_factors."]').count() < rows:
        shown = modal.locator('.bk-input[data-block-id^="custom_factors."]').count()
        modal.locator('[data-action-id="add_factor"]').click()  # custom factors are added one at a time
        expect(modal.locator('.bk-input[data-block-id^="custom_factors."]')).not_to_have_count(shown)
    for block_id, value in values.items():
        block = modal.locator(f'.bk-input[data-block-id="{block_id}"]')
        control = block.locator("[data-input]")
        kind = control.get_attribute("data-input")
        if kind in ("radio_buttons", "checkboxes"):
            for box in block.locator("input").all():
                wanted = box.get_attribute("value") in ([value] if isinstance(value, str) else value)
                box.set_checked(wanted)
        elif kind in ("static_select", "multi_static_select", "multi_users_select"):
            control.select_option(value if isinstance(value, list) else str(value))
        elif kind == "external_select":
            search_and_pick(page, block_id, str(value))
        else:
            control.fill(str(value))


def search_and_pick(page: Any, block_id: str, zone: str, typed: str | None = None) -> Any:
    """Type in the form's time-zone search (the city of ``zone`` unless ``typed`` says otherwise) and pick ``zone``
    from the options the bot sends back; returns the search box."""
    block = page.locator(f'.sb-modal .bk-input[data-block-id="{block_id}"]')
    box = block.locator("input.bk-external")
    box.click()
    box.fill(typed if typed is not None else zone.rsplit("/", 1)[-1].replace("_", " "))
    label = zone.replace("_", " ")
    block.get_by_role("option", name=label, exact=True).click()
    expect(box).to_have_value(label)
    return box


def open_section(page: Any, section: str) -> Any:
    page.locator(f'.msg [data-action-id="open_section:{section}"]').last.click()
    modal = page.locator(".sb-modal")
    expect(modal).to_be_visible()
    return modal


def save(page: Any) -> None:
    page.locator(".sb-modal .sb-submit").click()
    expect(page.locator(".sb-modal")).to_have_count(0)


def open_milestone(page: Any, index: int) -> Any:
    """Milestone ``index``'s own form, from its row on the hub; a new one with "Add a milestone"."""
    edit = page.locator(f'.msg [data-action-id="edit_milestone:{index}"]')
    if edit.count():
        edit.last.click()
    else:
        page.locator('.msg [data-action-id="add_milestone"]').last.click()
    modal = page.locator(".sb-modal")
    expect(modal).to_be_visible()
    return modal


def answer(page: Any, section: str, values: dict[str, Any]) -> None:
    """Answer a section; milestones one at a time, then the questions across them, as a person would."""
    if section != "milestones":
        open_section(page, section)
        fill(page, values)
        save(page)
        return
    rows = sorted({int(key.split(".")[1]) for key in values if key.startswith("milestones.")})
    for index in rows:
        open_milestone(page, index)
        fill(page, {k: v for k, v in values.items() if k.startswith(f"milestones.{index}.")})
        save(page)
    across = {k: v for k, v in values.items() if not k.startswith("milestones.")}
    if across:
        open_section(page, section)
        fill(page, across)
        save(page)


def start_step3(page: Any) -> None:
    type_in_composer(page, "/onboarding step3")
    expect(page.locator(".msg .bk-header", has_text="Step 3")).to_be_visible()


def review_and_save(page: Any) -> None:
    """[C], then confirm the synthesis: the plan document is posted."""
    page.locator('.msg [data-action-id="review_save"]').last.click()
    page.locator('.msg [data-action-id="confirm_save"]').last.click()
    expect(page.locator(".msg-file a").last).to_be_visible()


def run_scheduler(page: Any, at: str) -> None:
    """The scheduler control: what ``onboarding-bot tick --now`` runs, as of ``at`` (YYYY-MM-DDTHH:MM, UTC)."""
    page.locator("#sb-scheduler input[name=at]").fill(at)
    page.locator("#sb-scheduler button").click()
    expect(page.locator("#sb-banner")).to_contain_text(f"Scheduler run as of {at}:00")


def open_message_menu(message: Any) -> None:
    """The ⋮ menu of a message: shown on hover, as in Slack (retried: the list may be redrawn under the pointer)."""
    for _ in range(5):
        message.hover()
        try:
            message.locator('[data-action="message-menu"]').click(timeout=2_000)
            return
        except Exception:
            continue
    message.locator('[data-action="message-menu"]').click()
