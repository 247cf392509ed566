"""What listeners need besides the Slack client: the database and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from storage.db import Sessions
from storage.models import utcnow


@dataclass(frozen=True)
class Services:
    sessions: Sessions
    clock: Callable[[], datetime] = field(default=utcnow)
    # Called after a listener queued an outbox post, so it goes out now rather than at the next interval.
    wake_delivery: Callable[[], None] = field(default=lambda: None)

    def today(self) -> date:
        return self.clock().date()
