"""`/onboarding token create|list|revoke`: the replies, always ephemeral (only the person who asked sees them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.blocks.common import esc, mention, sections, slack_date
from bot.ids import COMMAND
from steps.api import CLI_CREATOR

if TYPE_CHECKING:
    from storage.records import ApiTokenRecord

TOKEN_USAGE = f"Usage: `{COMMAND} token create <name>`, `{COMMAND} token list` or `{COMMAND} token revoke <name>`."


def _ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": sections(text)}


def token_created(name: str, token: str, plan_name: str) -> dict[str, Any]:
    """The token, shown this once: the bot keeps only its hash."""
    return _ephemeral(
        f"API token *{esc(name)}* for the plan *{esc(plan_name)}*. Copy it now: it is shown only this once, "
        "only to you, and cannot be shown again.\n"
        f"```{token}```\n"
        "Send it as `Authorization: Bearer <token>` to `POST /api/v1/customers` and `POST /api/v1/signals` "
        "(the README links the API's OpenAPI document). "
        f"`{COMMAND} token revoke {esc(name)}` stops it."
    )


def _creator(user_id: str) -> str:
    return "the command line" if user_id == CLI_CREATOR else mention(user_id)


def token_list(plan_name: str, tokens: list[ApiTokenRecord]) -> dict[str, Any]:
    if not tokens:
        return _ephemeral(f"The plan *{esc(plan_name)}* has no API tokens. `{COMMAND} token create <name>` makes one.")
    lines = [f"*API tokens of the plan {esc(plan_name)}*"]
    for token in tokens:
        used = slack_date(token.last_used_at) if token.last_used_at else "never"
        lines.append(
            f"• *{esc(token.name)}* — created by {_creator(token.created_by)} {slack_date(token.created_at)}; "
            f"last used: {used}"
        )
    return _ephemeral("\n".join(lines))


def token_revoked(name: str, plan_name: str) -> dict[str, Any]:
    return _ephemeral(
        f"API token *{esc(name)}* of the plan *{esc(plan_name)}* is revoked: requests with it now get 401."
    )
