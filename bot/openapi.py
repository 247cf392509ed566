"""The OpenAPI 3.1 document of the HTTP API, served at ``GET /api/v1/openapi.json``.

Written out rather than generated from the pydantic row models: their JSON schemas lose the constraints placed after
a ``BeforeValidator`` (the id's pattern, the value's bounds). Tests keep the two true to each other: every item
schema lists exactly the columns of ``steps.imports.COLUMNS`` with its ``REQUIRED`` ones, and real answers of the
API are validated against this document.
"""

from __future__ import annotations

from typing import Any

from steps.api import MAX_BODY_BYTES, MAX_IDEMPOTENCY_KEY, MAX_ITEMS, TOKEN_PREFIX
from steps.imports import MAX_EXTERNAL_ID, MAX_NAME, MAX_SEGMENT
from steps.step3 import MAX_SCORE

OPENAPI_PATH = "/api/v1/openapi.json"
API_VERSION = "1.0.0"

_ID = {
    "type": "string", "minLength": 1, "maxLength": MAX_EXTERNAL_ID, "pattern": r"^[^\s<>|]+$",
    "description": "The customer's id in your CRM (its external id), unique within the plan; an upsert key that "
    "an import never changes.",
    "examples": ["acme-001"],
}  # fmt: skip


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Customer": {
        "type": "object",
        "description": "One customer, upserted by `id`. A field left out or null keeps what the plan has (an "
        "existing customer's start, owner or segment are not cleared).",
        "additionalProperties": False,
        "required": ["id", "name"],
        "properties": {
            "id": _ID,
            "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "description": "Unique in the plan "
                     "(case-insensitively)."},
            "start": _nullable({"type": "string", "format": "date", "description": "Onboarding start (YYYY-MM-DD); "
                                "milestone deadlines follow from it. New customers default to today."}),
            "owner": _nullable({"type": "string", "pattern": "^[UW][A-Z0-9]{2,30}$",
                                "description": "A Slack user id, e.g. U0123ABCD."}),
            "segment": _nullable({"type": "string", "maxLength": MAX_SEGMENT}),
        },
    },
    "Signal": {
        "type": "object",
        "description": "One observation of a health factor. The latest observation per factor is what scores use; "
        "an older one arriving late is kept as history and moves nothing.",
        "additionalProperties": False,
        "required": ["id", "factor", "value"],
        "properties": {
            "id": _ID,
            "factor": {"type": "string", "minLength": 1, "maxLength": 100, "description": "A factor of the plan's "
                       "health model by its key (e.g. `adoption`, or a custom factor's name in lower case)."},
            "value": {"type": "number", "minimum": 0, "maximum": MAX_SCORE},
            "observed_at": _nullable({"type": "string", "format": "date-time", "description": "When the value was "
                                      "true, with a time zone, not in the future; default: when it is received."}),
        },
    },
    "CustomerBatch": {
        "type": "object", "additionalProperties": False, "required": ["items"],
        "properties": {"items": {"type": "array", "maxItems": MAX_ITEMS, "items": _ref("Customer")}},
    },
    "SignalBatch": {
        "type": "object", "additionalProperties": False, "required": ["items"],
        "properties": {"items": {"type": "array", "maxItems": MAX_ITEMS, "items": _ref("Signal")}},
    },
    "FieldError": {
        "type": "object", "required": ["field", "path", "message"],
        "properties": {
            "field": {"type": "string", "description": "The item's field (or `row` for the item as a whole)."},
            "path": {"type": "string", "description": "JSONPath into the request body, e.g. `$.items[3].value`."},
            "message": {"type": "string"},
        },
    },
    "ItemResult": {
        "type": "object", "required": ["index", "id", "status"],
        "properties": {
            "index": {"type": "integer", "minimum": 0, "description": "The item's position in `items`."},
            "id": {"type": ["string", "null"], "description": "The item's `id` as sent (null if it was not a string)."},
            "status": {"type": "string", "enum": ["created", "updated", "unchanged", "rejected"]},
            "errors": {"type": "array", "items": _ref("FieldError"), "description": "Only when rejected."},
        },
    },
    "BatchResult": {
        "type": "object", "required": ["kind", "counts", "results"],
        "properties": {
            "kind": {"type": "string", "enum": ["customers", "signals"]},
            "counts": {
                "type": "object", "required": ["created", "updated", "unchanged", "rejected"],
                "properties": {n: {"type": "integer", "minimum": 0}
                               for n in ("created", "updated", "unchanged", "rejected")},
            },
            "results": {"type": "array", "items": _ref("ItemResult")},
        },
    },
    "Error": {
        "type": "object", "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "A stable code, e.g. `unauthorized`, `rate_limited`."},
            "message": {"type": "string"},
            "errors": {
                "type": "array", "description": "For a body that is not a batch: where, as JSONPaths.",
                "items": {"type": "object", "required": ["path", "message"],
                          "properties": {"path": {"type": "string"}, "message": {"type": "string"}}},
            },
        },
    },
}  # fmt: skip


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


def _batch_operation(kind: str, item: str, summary: str) -> dict[str, Any]:
    return {
        "operationId": f"import_{kind}",
        "summary": summary,
        "description": f"Up to {MAX_ITEMS} items, at most {MAX_BODY_BYTES} bytes. The valid items are applied in one "
        "transaction, and the answer has a result per item: created, updated, unchanged, or rejected with the "
        "errors of each field (a rejected item changes nothing; the others are applied all the same). The "
        "same batch sent again changes nothing (every item answers `unchanged`).",
        "security": [{"bearer": []}],
        "parameters": [
            {"name": "channel", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "The Slack channel id of the plan this batch is meant for. The token alone decides the "
             "plan; when this is given and is not the token's plan's channel, the batch is refused (403)."},
            {"name": "Idempotency-Key", "in": "header", "required": False,
             "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY, "pattern": "^[!-~]+$"},
             "description": "Makes a retry safe: the same key with the same batch within 24 hours gets the first "
             "answer again (header `Idempotent-Replayed: true`) and applies nothing; the same key with another "
             "batch gets 422."},
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(item)}}},
        "responses": {
            "200": {"description": "Applied: one result per item.",
                    "content": {"application/json": {"schema": _ref("BatchResult")}}},
            "401": _error("No token, or an unknown or revoked one.",
                          {"WWW-Authenticate": {"schema": {"type": "string"}}}),
            "403": _error("`channel` names another plan's channel than the token's."),
            "409": _error("The plan cannot take the batch (its Step 3 is not saved), or a concurrent request with "
                          "the same Idempotency-Key was applied and its answer has expired since."),
            "413": _error(f"More than {MAX_ITEMS} items, or a body over {MAX_BODY_BYTES} bytes."),
            "422": _error("Not JSON, not shaped as a batch (with the JSONPath of each error), an invalid "
                          "Idempotency-Key, or one already used for another batch."),
            "429": _error("Over the token's rate (`API_RATE_LIMIT` requests a minute); wait `Retry-After` seconds.",
                          {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}),
        },
    }  # fmt: skip


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "onboarding-bot API",
            "version": API_VERSION,
            "description": "Load a plan's customers and health signals from a script, a warehouse or a CRM. Each "
            f"token belongs to one plan: create one with `/onboarding token create <name>` in the plan's channel "
            f"(tokens start with `{TOKEN_PREFIX}`).",
        },
        "paths": {
            "/api/v1/customers": {"post": _batch_operation("customers", "CustomerBatch",
                                                           "Create or update customers by id")},
            "/api/v1/signals": {"post": _batch_operation("signals", "SignalBatch", "Record health signals")},
            OPENAPI_PATH: {"get": {"operationId": "openapi", "summary": "This document", "responses": {
                "200": {"description": "The OpenAPI document.", "content": {"application/json": {}}}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A plan's API token, e.g. `obt_...`."}},
            "schemas": SCHEMAS,
        },
    }  # fmt: skip
