"""The one error a person is shown as written: what they asked for cannot be done, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Ref:
    """A channel or a person named in a message; each surface writes it its own way (a Slack mention, ``#C123``)."""

    kind: Literal["channel", "user"]
    id: str


def channel_ref(channel_id: str) -> Ref:
    return Ref("channel", channel_id)


def user_ref(user_id: str) -> Ref:
    return Ref("user", user_id)


class UserError(Exception):
    """A request refused with a message for the person; raising it means nothing was changed.

    The message is plain text with no Slack formatting assumed: whatever shows it escapes the text parts
    (a customer name may contain ``<`` or ``&``) and writes each ``Ref`` as that surface names channels and people.
    Backquoted commands and ``*[C]*`` read the same whether or not the surface renders them.
    """

    def __init__(self, *parts: str | Ref) -> None:
        self.parts: tuple[str | Ref, ...] = parts
        super().__init__(self.plain())

    def plain(self) -> str:
        return "".join(part if isinstance(part, str) else _plain(part) for part in self.parts)


def _plain(ref: Ref) -> str:
    return f"#{ref.id}" if ref.kind == "channel" else f"@{ref.id}"
