"""The scheduled health-score update: one digest per plan per cadence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.blocks.common import Block, context, divider, esc, header, mention, section, sections, shorten
from steps.health import DataShare, FactorContribution, StaleFactor
from steps.step3 import Band

LIST_LIMIT = 15
PROTOCOL_PREVIEW = 600
# The thread lists every at-risk and critical customer, 40 to a message, up to 10 messages a digest.
THREAD_LINES = 40
THREAD_PARTS = 10


@dataclass(frozen=True)
class DigestLine:
    customer: str
    score: float | None
    band: Band | None
    previous_score: float | None
    previous_band: Band | None
    weakest: tuple[FactorContribution, ...]  # empty for the lines that do not show them
    stale: tuple[StaleFactor, ...] = ()  # left out of the score for their age
    insufficient: DataShare | None = None  # no score: too little fresh data
    missing: tuple[str, ...] = ()  # labels of the factors without any data, said of insufficient data

    @property
    def delta(self) -> float:
        if self.score is None or self.previous_score is None:
            return 0.0
        return self.score - self.previous_score


def weakest_factors(factors: tuple[FactorContribution, ...]) -> str:
    """Plain text, e.g. "Engagement 20 · Support tickets 35"."""
    return " · ".join(f"{f.label} {f.value:.0f}" for f in factors if f.value is not None)


def _score(value: float | None) -> str:
    return "no data yet" if value is None else f"{value:.1f}"


def stale_note(stale: tuple[StaleFactor, ...]) -> str:
    """Plain text, e.g. "stale: Engagement (observed 2026-01-21)"; empty when nothing is stale."""
    if not stale:
        return ""
    return "stale: " + ", ".join(f"{factor.label} (observed {factor.since})" for factor in stale)


def _line(line: DigestLine, *, with_weakest: bool, bullet: str = "•") -> str:
    if line.insufficient is not None:
        text = f"{bullet} *{esc(line.customer)}* insufficient data ({_percent(line.insufficient)} of the weights fresh)"
        if line.missing:
            text += f" · missing: {esc(', '.join(line.missing))}"
        if line.stale:
            text += f" · {esc(stale_note(line.stale))}"
        return text
    text = f"{bullet} *{esc(line.customer)}* {_score(line.score)}"
    if line.previous_score is not None and line.delta:
        text += f" ({'+' if line.delta > 0 else '−'}{abs(line.delta):.1f})"
    if line.band is not None and line.previous_band not in (None, line.band):
        text += f" · {line.previous_band.label} → {line.band.label}"
    weakest = weakest_factors(line.weakest) if with_weakest else ""
    if weakest:
        text += f" · weakest: {esc(weakest)}"
    if line.stale:
        text += f" · {esc(stale_note(line.stale))}"
    return text


def _percent(share: DataShare) -> str:
    return f"{share.share:.0f}%"


def _listed(title: str, lines: list[DigestLine], with_weakest: bool, total: int | None = None) -> list[Block]:
    """The first lines of ``total`` (default: all of ``lines``)."""
    total = len(lines) if total is None else total
    if not lines:
        return []
    body = [f"*{title}*", *(_line(line, with_weakest=with_weakest) for line in lines[:LIST_LIMIT])]
    if total > LIST_LIMIT:
        body.append(f"…and {total - LIST_LIMIT} more, listed in this message's thread")
    return sections("\n".join(body))


def health_digest(
    plan_name: str,
    schedule: str,
    counts: dict[Band | None, int],
    movers: list[DigestLine],
    flagged: dict[Band, list[DigestLine]],
    protocols: dict[Band, str | None],
    monitors: list[str],
    insufficient: list[DigestLine] | None = None,
    insufficient_count: int = 0,
    stale_or_insufficient: int = 0,
    flagged_counts: dict[Band, int] | None = None,
) -> dict[str, Any]:
    """``insufficient`` holds the first lines of the ``insufficient_count`` customers without a score for too little
    fresh data (LIST_LIMIT are shown). ``flagged`` may hold only the first lines of each band when ``flagged_counts``
    says how many there are (at most THREAD_LINES x THREAD_PARTS lines are ever shown)."""
    insufficient = insufficient or []
    total = sum(counts.values()) + insufficient_count
    summary = " · ".join(f"{band.label}: {counts.get(band, 0)}" for band in Band)
    if counts.get(None):
        summary += f" · No data yet: {counts[None]}"
    if insufficient_count:
        summary += f" · Insufficient data: {insufficient_count}"
    top = f"*{total} customers* · {summary}"
    if stale_or_insufficient:
        customers = "customer" if stale_or_insufficient == 1 else "customers"
        top += f"\n:hourglass: {stale_or_insufficient} {customers} with stale or insufficient data"
    blocks: list[Block] = [
        header(f"Health update · {plan_name}"),
        section(top),
    ]
    blocks += _listed("Movers since the last update", movers, with_weakest=False)
    for band in (Band.CRITICAL, Band.AT_RISK):
        lines = flagged.get(band, [])
        count = None if flagged_counts is None else flagged_counts.get(band, 0)
        blocks += _listed(f"{band.label} customers", lines, with_weakest=True, total=count)
        protocol = protocols.get(band)
        if lines and protocol:
            blocks.append(section(f"*{band.label} response protocol:* {esc(shorten(protocol, PROTOCOL_PREVIEW))}"))
    if insufficient:
        shown = [_line(line, with_weakest=False) for line in insufficient[:LIST_LIMIT]]
        if insufficient_count > len(shown):
            shown.append(f"…and {insufficient_count - len(shown)} more; `/onboarding customer list` shows them all")
        blocks += sections("\n".join(["*Insufficient data*", *shown]))
    blocks.append(divider())
    footer = f"Updated {esc(schedule)}."
    if monitors:
        footer += " Monitors: " + " ".join(mention(m) for m in monitors)
    blocks.append(context(footer))
    text = f"Health update for {esc(plan_name)}: {summary}"
    return {"text": text, "blocks": blocks}


def flagged_thread_parts(
    flagged: dict[Band, list[DigestLine]], counts: dict[Band, int] | None = None
) -> list[dict[str, Any]]:
    """Every at-risk and critical customer, for the digest's thread (the digest shows the lowest few). ``flagged``
    may hold only the first THREAD_LINES x THREAD_PARTS lines of each band when ``counts`` says how many there are."""
    counts = counts if counts is not None else {band: len(lines) for band, lines in flagged.items()}
    capacity = THREAD_LINES * THREAD_PARTS
    rows = [(band, line) for band in (Band.CRITICAL, Band.AT_RISK) for line in flagged.get(band, [])[:capacity]]
    if all(count <= LIST_LIMIT for count in counts.values()):
        return []  # the digest itself already lists everyone
    total = sum(counts.get(band, 0) for band in (Band.CRITICAL, Band.AT_RISK))
    parts: list[dict[str, Any]] = []
    for start in range(0, min(len(rows), capacity), THREAD_LINES):
        chunk = rows[start : start + THREAD_LINES]
        text = "\n".join(_line(line, with_weakest=True, bullet=f"• {band.label}:") for band, line in chunk)
        parts.append({"text": f"At-risk and critical customers ({start + 1}–{start + len(chunk)} of {total})",
                      "blocks": sections(text)})  # fmt: skip
    if total > capacity:
        more = f"…and {total - capacity} more; `/onboarding customer list` shows scores and bands."
        parts[-1]["blocks"].append(context(more))
    return parts
