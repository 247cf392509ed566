"""IANA time zones: which ones this server knows, and finding them from a few typed words.

A plan's updates are scheduled in one of these zones, so the form offers every zone the server can compute with and
validation accepts exactly those; the search only decides the order people see them in.
"""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import available_timezones

# Slack shows at most 100 options for an external select.
MAX_MATCHES = 100

# Zone names write spaces as "_" ("New_York") and separate areas with "/": people type spaces instead.
_SEPARATORS = re.compile(r"[\s_/-]+")


@cache
def known_zones() -> frozenset[str]:
    """The IANA zones this server knows; reading them scans the zone database, so once per process."""
    return frozenset(available_timezones()) | {"UTC"}


def is_known_zone(name: str) -> bool:
    return name in known_zones()


def _words(text: str) -> str:
    return _SEPARATORS.sub(" ", text).strip().lower()


@cache
def _searchable() -> tuple[tuple[str, str, str], ...]:
    """(zone, its words, its city's words) by zone name: ``America/New_York``, ``america new york``, ``new york``."""
    return tuple((zone, _words(zone), _words(zone.rsplit("/", 1)[-1])) for zone in sorted(known_zones()))


def _rank(query: str, words: str, city: str) -> int | None:
    """How well a zone matches: the whole name, then the city (exact, then its start), then any word's start, then
    anywhere in the name; None when it does not match at all."""
    if words == query:
        return 0
    if city == query:
        return 1
    if city.startswith(query):
        return 2
    if f" {words}".find(f" {query}") >= 0:
        return 3
    if query in words:
        return 4
    return None


def search_zones(query: str, limit: int = MAX_MATCHES) -> list[str]:
    """The zones matching ``query``, best first: "new york" finds America/New_York, "london" Europe/London.

    Case, spaces, ``_``, ``/`` and ``-`` do not matter. A blank query matches nothing: there is no way to rank the
    whole list, and typing a zone's full name always puts that zone first, so every zone can be found.
    """
    wanted = _words(query)
    if not wanted:
        return []
    ranked = [(rank, zone) for zone, words, city in _searchable() if (rank := _rank(wanted, words, city)) is not None]
    return [zone for _, zone in sorted(ranked)[:limit]]


def zone_label(zone: str) -> str:
    """A zone as people read it: ``America/New York`` (the longest IANA name has 32 characters, well under Slack's
    75 for an option)."""
    return zone.replace("_", " ")
