"""The one error a person is shown as written: what they asked for cannot be done, and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Ref:
    """A channel or a person named in a message; each surface writes it its own way (a Slack mention, ``#C123``)."""

    kind: Literal["channel", "user"]
    id: str


def channel_ref(channel_id: str) -> Ref:
    return Ref("channel", channel_id)


class UserError(Exception):
    """A request refused with a message for the person; raising it means nothing was changed.

    ``message`` is the bot's own wording, written once for every surface (backquoted commands and ``*[C]*`` read
    the same rendered or not). Anything that came from people or the database goes in ``values``, named by the
    message's ``{placeholders}``: each surface escapes that text as it must (a customer may be called
    ``<!channel>``) and writes each ``Ref`` as it names channels and people.
    """

    def __init__(self, message: str, /, **values: str | Ref) -> None:
        self.message = message
        self.values = values
        super().__init__(self.plain())

    def render(self, text: Callable[[str], str], ref: Callable[[Ref], str]) -> str:
        """The message with each value written by ``text`` or ``ref``."""
        if not self.values:
            return self.message
        return self.message.format(**{k: text(v) if isinstance(v, str) else ref(v) for k, v in self.values.items()})

    def plain(self) -> str:
        return self.render(lambda text: text, lambda ref: f"#{ref.id}" if ref.kind == "channel" else f"@{ref.id}")
