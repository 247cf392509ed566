"""The HTTP API's rules, with no HTTP in them: tokens, the shape of a batch, per-item answers and the rate limit.

A batch is a JSON object ``{"items": [...]}`` of at most ``MAX_ITEMS`` items, each an object with the same fields
as the CSV columns of its kind (``steps.imports.COLUMNS``). What the JSON's *structure* gets wrong (not JSON, not
an object, an item that is not an object, a field no column has) refuses the whole batch with the JSON path of each
error; what an item's *values* get wrong (a missing name, a value of 140) rejects that item alone, as a CSV row is.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from steps.imports import COLUMNS, ImportReport, Kind

TOKEN_PREFIX = "obt_"
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")
TOKEN_NAME_RULE = "1 to 60 letters, digits, dots, dashes or underscores, starting with a letter or digit"
MAX_ITEMS = 1000
CLI_CREATOR = "cli"  # who created a token made with `onboarding-bot token create`, which has no Slack user
# 1,000 items of the longest customer rows (100-character id, 200-character name and segment) in UTF-8 fit in
# under 1 MB; twice that leaves room for escapes and whitespace.
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_IDEMPOTENCY_KEY = 200
IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_IDEMPOTENCY_KEY}}}")


def new_token() -> str:
    """A bearer token: a recognisable prefix (secret scanners and people spot it) and 256 random bits."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is kept of a token: its SHA-256. The token has 256 random bits, so no salt or slow hash is needed."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def request_hash(path: str, items: list[Any]) -> str:
    """A batch's fingerprint for ``Idempotency-Key``: its endpoint and its items, however the JSON was spaced."""
    canonical = json.dumps([path, items], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ShapeError:
    path: str  # a JSONPath into the body, e.g. ``$.items[3].valeu``
    message: str


class BadBatch(Exception):
    """The body is not a batch: ``errors`` says where (422)."""

    def __init__(self, errors: list[ShapeError]) -> None:
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = errors


class TooManyItems(Exception):
    """More than ``MAX_ITEMS`` items (413)."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} items; a batch has at most {MAX_ITEMS}")
        self.count = count


# JSON may escape half of a UTF-16 pair (\ud800) alone: Python reads it into a string no database or UTF-8 can hold.
LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
MAX_SHAPE_ERRORS = 50  # a body wrong in every item says so in the first fifty; the rest repeat them


def parse_batch(kind: Kind, raw: bytes) -> list[dict[str, Any]]:
    """The items of a batch body, or ``BadBatch`` / ``TooManyItems``."""
    try:
        body = json.loads(raw)
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; a body of "[[[[..." nests past the recursion limit.
    except (ValueError, RecursionError) as exc:
        raise BadBatch([ShapeError("$", f"The body is not JSON ({exc}).")]) from None
    if LONE_SURROGATE.search(raw) and not _encodable(body):
        raise BadBatch([ShapeError("$", "The body has a \\u escape that is half of a character (a lone surrogate).")])
    if not isinstance(body, dict):
        raise BadBatch([ShapeError("$", 'The body must be an object: {"items": [...]}.')])
    errors = [ShapeError(f"${_member(k)}", "Unknown field; the body has only `items`.") for k in body if k != "items"]
    items = body.get("items")
    if not isinstance(items, list):
        errors.append(ShapeError("$.items", "Required: an array of up to 1,000 items."))
        raise BadBatch(errors)
    if len(items) > MAX_ITEMS:
        raise TooManyItems(len(items))
    columns = COLUMNS[kind]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(ShapeError(f"$.items[{index}]", "Each item must be an object."))
            continue
        errors += [
            ShapeError(f"$.items[{index}]{_member(k)}", f"Unknown field; {kind.value} have {', '.join(columns)}.")
            for k in item
            if k not in columns
        ]
    if errors:
        raise BadBatch(errors[:MAX_SHAPE_ERRORS])
    return items


def _encodable(body: Any) -> bool:
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _member(name: str) -> str:
    """A member of a JSONPath: ``.name`` when it is a plain name, else ``["any text"]``."""
    return f".{name}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else "[" + json.dumps(name) + "]"


def batch_answer(kind: Kind, items: Sequence[Mapping[str, Any]], report: ImportReport) -> dict[str, Any]:
    """The answer to a batch: counts, and one result per item in the order sent (item ``i`` was row ``i``)."""
    errors: dict[int, list[dict[str, str]]] = {}
    for rejected in report.rejected:
        column = rejected.column if rejected.column in COLUMNS[kind] else None
        path = f"$.items[{rejected.row}]" + (f".{column}" if column else "")
        errors.setdefault(rejected.row, []).append({"field": rejected.column, "path": path, "message": rejected.reason})
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        given = item.get("id")
        result: dict[str, Any] = {"index": index, "id": given if isinstance(given, str) else None}
        if index in errors:
            result |= {"status": "rejected", "errors": errors[index]}
        else:
            result["status"] = report.results[index]
        results.append(result)
    counts = report.counts
    return {
        "kind": kind.value,
        "counts": {
            "created": counts.created, "updated": counts.updated, "unchanged": counts.unchanged,
            "rejected": counts.rejected,
        },
        "results": results,
    }  # fmt: skip


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """A token bucket per API token, in this process's memory: ``per_minute`` requests a minute, with bursts of up to
    that many. (Several replicas each keep their own buckets, so together they allow that many per replica.)"""

    per_minute: int
    clock: Callable[[], float]
    _buckets: dict[int, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: int) -> int:
        """0 when a request may go ahead (and counts); else the whole seconds until one may (``Retry-After``)."""
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key) or _Bucket(float(self.per_minute), now)
            bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            self._buckets[key] = bucket
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0
            return max(1, math.ceil((1 - bucket.tokens) / rate))
