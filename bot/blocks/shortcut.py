"""The "Add to onboarding plan" modal: pick the field a message goes into, and how."""

from __future__ import annotations

from typing import Any

from bot.blocks.common import context, esc, mention, option, plain, section, shorten
from bot.ids import ADD_TO_PLAN_SUBMIT, VALUE
from steps.step3 import Section

QUOTE_PREVIEW = 600


def add_to_plan_modal(
    author: str, text: str, fields: dict[Section, list[tuple[str, str]]], metadata: str
) -> dict[str, Any]:
    groups = [
        {
            "label": plain(section.label),
            "options": [option(f"{section.value}:{path}", label) for path, label in options],
        }
        for section, options in fields.items()
        if options
    ]
    quote = "\n".join(f"> {line}" for line in esc(shorten(text, QUOTE_PREVIEW)).split("\n"))
    return {
        "type": "modal",
        "callback_id": ADD_TO_PLAN_SUBMIT,
        "title": plain("Add to plan"),
        "submit": plain("Add"),
        "close": plain("Cancel"),
        "private_metadata": metadata,
        "blocks": [
            section(f"From {mention(author)}:\n{quote}"),
            {
                "type": "input",
                "block_id": "field",
                "label": plain("Which answer does this message go into?"),
                "element": {"type": "static_select", "action_id": VALUE, "option_groups": groups},
            },
            {
                "type": "input",
                "block_id": "mode",
                "label": plain("How?"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": VALUE,
                    "options": [
                        {"text": plain("Add it after the current answer"), "value": "append"},
                        {"text": plain("Replace the current answer"), "value": "replace"},
                    ],
                    "initial_option": {"text": plain("Add it after the current answer"), "value": "append"},
                },
            },
            context("The message is saved word for word, credited to its author, with a link back to it."),
        ],
    }
