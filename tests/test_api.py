"""The HTTP API (`POST /api/v1/customers`, `POST /api/v1/signals`) and its tokens, over real HTTP to the bot's front
door, on SQLite and PostgreSQL: every status it answers, per-item results, atomicity, idempotent retries, the rate
limit, the OpenAPI document, and `/onboarding token create|list|revoke` as Slack sends them."""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_spec
from sqlalchemy import func, select

import storage.health_scores
import storage.models as models
from bot.cli import main
from bot.settings import ConfigError, load_settings
from sandbox import payloads as sr
from sandbox.slack_api import FakeSlack
from steps.api import MAX_BODY_BYTES, MAX_ITEMS
from steps.imports import COLUMNS, REQUIRED, Kind
from tests.conftest import NOW
from tests.support.answers import complete_step3
from tests.support.cli import in_process_cli
from tests.support.harness import BotHarness, FakeClock

pytestmark = pytest.mark.http
TOKEN = re.compile(r"obt_[A-Za-z0-9_-]{43}")
CUSTOMERS, SIGNALS, OPENAPI = "/api/v1/customers", "/api/v1/signals", "/api/v1/openapi.json"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def call(
    harness: BotHarness,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Reply:
    """One HTTP request to the bot's front door on loopback, as a script with curl would send it."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    sent = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    connection = http.client.HTTPConnection("127.0.0.1", harness.server.effective_port, timeout=30)
    try:
        connection.request(method, path, body=data, headers={**sent, **(headers or {})})
        response = connection.getresponse()
        text = response.read()
        reply_headers = {name.lower(): value for name, value in response.getheaders()}
    finally:
        connection.close()
    return Reply(response.status, reply_headers, json.loads(text) if text else None)


def new_token(harness: BotHarness, name: str = "warehouse", **command: Any) -> str:
    reply = harness.command(f"token create {name}", **command).json()
    assert reply["response_type"] == "ephemeral", reply
    found = TOKEN.search(reply["text"])
    assert found, reply["text"]
    return found.group(0)


def count(harness: BotHarness, model: type[Any]) -> int:
    with harness.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def planned(bot: BotHarness) -> BotHarness:
    complete_step3(bot)
    return bot


@pytest.fixture
def token(planned: BotHarness) -> str:
    return new_token(planned)


def customers(*ids: str) -> dict[str, Any]:
    return {"items": [{"id": i, "name": f"Customer {i}", "start": "2026-11-01"} for i in ids]}


# --- per-item results -----------------------------------------------------------------------------------------------


def test_a_customer_batch_answers_per_item(planned: BotHarness, token: str) -> None:
    batch = {
        "items": [
            {"id": "acme", "name": "Acme Corp", "start": "2026-11-01", "owner": sr.BOB, "segment": "enterprise"},
            {"id": "globex", "name": "Globex 😀"},  # sent as \ud83d\ude00, a pair
            {"id": "initech"},  # no name
            {"id": "umbrella", "name": "Umbrella", "start": "2026-02-30"},
        ]
    }
    reply = call(planned, CUSTOMERS, batch, token=token)
    assert reply.status == 200, reply.body
    assert reply.body["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 2}
    results = reply.body["results"]
    assert [(r["index"], r["id"], r["status"]) for r in results] == [
        (0, "acme", "created"), (1, "globex", "created"), (2, "initech", "rejected"), (3, "umbrella", "rejected"),
    ]  # fmt: skip
    assert [(e["field"], e["path"]) for e in results[2]["errors"]] == [("name", "$.items[2].name")]
    assert [(e["field"], e["path"]) for e in results[3]["errors"]] == [("start", "$.items[3].start")]
    listing = planned.command("customer list").json()["text"]
    assert "*Acme Corp*" in listing and "*Globex 😀*" in listing and "Initech" not in listing

    batch["items"][1]["segment"] = "smb"
    again = call(planned, CUSTOMERS, batch, token=token).body
    assert [r["status"] for r in again["results"]] == ["unchanged", "updated", "rejected", "rejected"]
    assert count(planned, models.Customer) == 2


def test_signals_are_recorded_with_the_tokens_name_as_source(planned: BotHarness, token: str) -> None:
    call(planned, CUSTOMERS, customers("acme", "globex"), token=token)
    batch = {
        "items": [
            {"id": "acme", "factor": "adoption", "value": 70, "observed_at": "2026-11-26T09:00:00Z"},
            {"id": "acme", "factor": "engagement", "value": 55},
            {"id": "globex", "factor": "adoption", "value": 140},
            {"id": "nobody", "factor": "adoption", "value": 10},
            {"id": "globex", "factor": "happiness", "value": 10},
        ]
    }
    reply = call(planned, SIGNALS, batch, token=token)
    assert reply.status == 200
    assert [r["status"] for r in reply.body["results"]] == ["created", "created", "rejected", "rejected", "rejected"]
    assert [e["field"] for r in reply.body["results"][2:] for e in r["errors"]] == ["value", "id", "factor"]
    with planned.sessions() as session:
        readings = session.execute(select(models.SignalReading.factor, models.SignalReading.source)).all()
    assert sorted(readings) == [("adoption", "api:warehouse"), ("engagement", "api:warehouse")]
    with planned.sessions() as session:
        latest = dict(session.execute(select(models.Customer.external_id, models.Customer.signals)).all())
    assert latest == {"acme": {"adoption": 70, "engagement": 55}, "globex": {}}
    assert "*Customer acme* · score 40.6" in planned.command("customer list").json()["text"]  # rescored

    # The same observation again, its time written in another zone: unchanged; with another value: updated.
    same = {"id": "acme", "factor": "adoption", "value": 70, "observed_at": "2026-11-26T10:00:00+01:00"}
    assert call(planned, SIGNALS, {"items": [same]}, token=token).body["results"][0]["status"] == "unchanged"
    changed = {**same, "value": 75}
    assert call(planned, SIGNALS, {"items": [changed]}, token=token).body["results"][0]["status"] == "updated"
    assert count(planned, models.SignalReading) == 2


def test_valid_items_are_applied_together_or_not_at_all(
    planned: BotHarness, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away mid-batch")

    # New customers are scored after they are written: a failure there must take the written ones back with it.
    monkeypatch.setattr(storage.health_scores, "record_scores", fail)
    reply = call(planned, CUSTOMERS, customers("acme", "globex", "initech"), token=token)
    assert reply.status == 500 and "Nothing was applied" in reply.body["message"]
    assert count(planned, models.Customer) == 0 and count(planned, models.CustomerMilestone) == 0


# --- refusals -------------------------------------------------------------------------------------------------------


def test_no_bad_or_revoked_token_gets_401(planned: BotHarness, token: str) -> None:
    missing = call(planned, CUSTOMERS, customers("acme"))
    assert missing.status == 401 and missing.headers["www-authenticate"] == 'Bearer realm="onboarding-bot"'
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "obt_", "xoxb-123", "é" * 10):
        reply = call(planned, CUSTOMERS, customers("acme"), token=wrong)
        assert reply.status == 401, wrong
        assert 'error="invalid_token"' in reply.headers["www-authenticate"]
    basic = call(planned, CUSTOMERS, customers("acme"), headers={"Authorization": f"Basic {token}"})
    assert basic.status == 401
    assert count(planned, models.Customer) == 0

    assert call(planned, CUSTOMERS, customers("acme"), token=token).status == 200
    reply = planned.command("token revoke warehouse").json()
    assert reply["response_type"] == "ephemeral" and "revoked" in reply["text"]
    revoked = call(planned, CUSTOMERS, customers("globex"), token=token)
    assert revoked.status == 401 and revoked.headers["www-authenticate"].startswith("Bearer")
    assert count(planned, models.Customer) == 1


def test_a_channel_of_another_plan_gets_403(planned: BotHarness, token: str) -> None:
    assert call(planned, f"{CUSTOMERS}?channel={sr.CHANNEL}", customers("acme"), token=token).status == 200
    reply = call(planned, f"{CUSTOMERS}?channel=C0OTHER01", customers("globex"), token=token)
    assert reply.status == 403 and reply.body["error"] == "forbidden"
    assert count(planned, models.Customer) == 1


def test_too_large_batches_get_413(planned: BotHarness, token: str) -> None:
    many = customers(*(f"c{i}" for i in range(MAX_ITEMS + 1)))
    reply = call(planned, CUSTOMERS, many, token=token)
    assert reply.status == 413 and reply.body["error"] == "too_many_items"
    huge = b'{"items": [' + b" " * MAX_BODY_BYTES + b"]}"
    reply = call(planned, CUSTOMERS, raw=huge, token=token)
    assert reply.status == 413 and reply.body["error"] == "too_large"
    assert count(planned, models.Customer) == 0
    exactly = customers(*(f"c{i}" for i in range(MAX_ITEMS)))
    assert call(planned, CUSTOMERS, exactly, token=token).body["counts"]["created"] == MAX_ITEMS


@pytest.mark.parametrize(
    ("raw", "paths"),
    [
        (b"{not json", ["$"]),
        (b"\xff\xfe{", ["$"]),
        (b"[" * 100_000, ["$"]),
        (b'[{"id": "acme", "name": "Acme"}]', ["$"]),
        (b'{"items": {"id": "acme"}}', ["$.items"]),
        (b'{"itmes": []}', ["$.itmes", "$.items"]),
        (b'{"items": [{"id": "acme", "name": "Acme"}, "globex", {"id": "x", "nmae": "X", "a b": 1}]}',
         ["$.items[1]", "$.items[2].nmae", '$.items[2]["a b"]']),
        (b'{"items": [{"id": "a\\ud800", "name": "Half a character"}]}', ["$"]),
    ],
)  # fmt: skip
def test_malformed_bodies_get_422_with_the_path_of_each_error(
    planned: BotHarness, token: str, raw: bytes, paths: list[str]
) -> None:
    reply = call(planned, CUSTOMERS, raw=raw, token=token)
    assert reply.status == 422 and reply.body["error"] == "invalid_body"
    assert [e["path"] for e in reply.body["errors"]] == paths
    assert count(planned, models.Customer) == 0


def test_wrong_methods_and_paths(planned: BotHarness, token: str) -> None:
    assert call(planned, CUSTOMERS, method="GET", token=token).status == 405
    assert call(planned, "/api/v1/nothing", {}, token=token).status == 404
    assert call(planned, OPENAPI, {}, token=token).headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_token_over_its_rate_gets_429_with_retry_after(fake: FakeSlack, database_url: str) -> None:
    harness = BotHarness(fake, database_url, clock=FakeClock(NOW), migrate=False, api_rate_limit=2)
    try:
        complete_step3(harness)
        token, other = new_token(harness), new_token(harness, "crm")
        assert [call(harness, CUSTOMERS, customers("a"), token=token).status for _ in range(2)] == [200, 200]
        limited = call(harness, CUSTOMERS, customers("b"), token=token)
        assert limited.status == 429 and limited.headers["retry-after"] == "30"
        assert count(harness, models.Customer) == 1
        assert call(harness, CUSTOMERS, customers("b"), token=other).status == 200  # a bucket per token
    finally:
        harness.close()


def test_the_rate_is_the_api_rate_limit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_RATE_LIMIT", "5")
    assert load_settings().api_rate_limit == 5
    monkeypatch.setenv("API_RATE_LIMIT", "0")
    with pytest.raises(ConfigError, match="API_RATE_LIMIT"):
        load_settings()


# --- Idempotency-Key ------------------------------------------------------------------------------------------------


def test_a_retried_batch_with_its_idempotency_key_applies_once(planned: BotHarness, token: str) -> None:
    key = {"Idempotency-Key": "nightly-2026-11-27"}
    first = call(planned, CUSTOMERS, customers("acme", "globex"), token=token, headers=key)
    assert first.status == 200 and first.body["counts"]["created"] == 2
    planned.command('customer add "Acme Renamed" id=acme')  # changed since: a real rerun would say "updated"
    spaced = json.dumps(customers("acme", "globex"), indent=4).encode()  # the same batch, spaced differently
    retry = call(planned, CUSTOMERS, raw=spaced, token=token, headers=key)
    assert retry.status == 200 and retry.body == first.body and retry.headers["idempotent-replayed"] == "true"
    assert "*Acme Renamed*" in planned.command("customer list").json()["text"]

    other = call(planned, CUSTOMERS, customers("acme"), token=token, headers=key)
    assert other.status == 422 and other.body["error"] == "idempotency_key_reused"
    elsewhere = call(planned, SIGNALS, customers("acme", "globex"), token=token, headers=key)
    assert elsewhere.status == 422  # the same key on the other endpoint is another batch

    # A day later the key has expired: the batch is applied again (the name goes back).
    planned.clock.set(NOW + timedelta(hours=25))
    later = call(planned, CUSTOMERS, customers("acme", "globex"), token=token, headers=key)
    assert [r["status"] for r in later.body["results"]] == ["updated", "unchanged"]
    assert "idempotent-replayed" not in later.headers


def test_expired_idempotency_keys_are_pruned_by_the_scheduler(planned: BotHarness, token: str) -> None:
    call(planned, CUSTOMERS, customers("acme"), token=token, headers={"Idempotency-Key": "k1"})
    planned.tick(NOW + timedelta(hours=1))
    assert count(planned, models.ApiRequest) == 1
    planned.tick(NOW + timedelta(hours=25))
    assert count(planned, models.ApiRequest) == 0


@pytest.mark.parametrize("key", ["", "x" * 201, "two words", "é"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_malformed_idempotency_keys_get_422(planned: BotHarness, token: str, key: str) -> None:
    reply = call(planned, CUSTOMERS, customers("acme"), token=token, headers={"Idempotency-Key": key})
    assert reply.status == 422 and reply.body["error"] == "invalid_idempotency_key"
    assert count(planned, models.Customer) == 0


# --- tokens from Slack and the CLI ----------------------------------------------------------------------------------


def test_a_token_is_shown_once_only_to_its_creator_and_stored_hashed(planned: BotHarness, token: str) -> None:
    # The ack is the only place the token went: nothing posted to the channel or through response_url.
    assert not any(token in json.dumps(call.args) for call in planned.fake.calls)
    with planned.sessions() as session:
        stored = session.scalars(select(models.ApiToken)).one()
    assert token not in json.dumps([stored.token_hash, stored.name]) and len(stored.token_hash) == 64
    listing = planned.command("token list").json()
    assert listing["response_type"] == "ephemeral"
    assert "*warehouse*" in listing["text"] and f"<@{sr.ALICE}>" in listing["text"] and "never" in listing["text"]
    assert "obt_" not in listing["text"]
    call(planned, CUSTOMERS, customers("acme"), token=token)
    assert "last used: never" not in planned.command("token list").json()["text"]


def test_token_commands_refuse_bad_input(planned: BotHarness, token: str) -> None:
    for text, words in [
        ("token create warehouse", "already has a token called “warehouse”"),
        ("token create <!channel>", "A token name is"),
        ("token create", "Usage"),
        ("token revoke nothing", "no token called “nothing”"),
        ("token rotate warehouse", "Usage"),
        ("token list extra", "Usage"),
    ]:
        reply = planned.command(text).json()
        assert reply.get("response_type", "ephemeral") == "ephemeral" and words in reply["text"], (text, reply)
    assert count(planned, models.ApiToken) == 1
    planned.command("token revoke warehouse")
    again = new_token(planned)  # a revoked token's name can be given again
    assert again != token and call(planned, CUSTOMERS, customers("acme"), token=again).status == 200
    assert call(planned, CUSTOMERS, customers("acme"), token=token).status == 401


def test_another_channel_or_workspace_cannot_see_or_revoke_a_plans_tokens(planned: BotHarness, token: str) -> None:
    elsewhere = [{"channel": "C0ELSEWHERE"}, {"team": sr.OTHER_TEAM}]
    for where in elsewhere:
        listing = planned.command("token list", **where).json()
        assert "warehouse" not in listing["text"] and "no onboarding plan" in listing["text"]
        planned.command("token revoke warehouse", **where)
        assert "no onboarding plan" in planned.command("token create sneaky", **where).json()["text"]
    assert call(planned, CUSTOMERS, customers("acme"), token=token).status == 200
    assert count(planned, models.ApiToken) == 1


def test_a_plan_without_a_saved_step3_gets_no_token(bot: BotHarness) -> None:
    bot.command("step3")
    reply = bot.command("token create warehouse").json()
    assert "Step 3 is saved" in reply["text"] and not TOKEN.search(reply["text"])
    assert count(bot, models.ApiToken) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_cli_creates_a_token_and_prints_it_once(
    planned: BotHarness, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    with in_process_cli(monkeypatch, tmp_path, {"DATABASE_URL": database_url}):
        assert main(["token", "create", "--channel", sr.CHANNEL, "--name", "nightly"]) == 0
        out, err = capsys.readouterr()
        assert main(["token", "create", "--channel", sr.CHANNEL, "--name", "nightly"]) == 1
        assert "already has a token" in capsys.readouterr().err
        assert main(["token", "create", "--channel", "C0NOPLAN1", "--name", "x"]) == 1
    printed = out.strip()
    assert TOKEN.fullmatch(printed) and "shown only now" in err
    assert call(planned, CUSTOMERS, customers("acme"), token=printed).status == 200
    assert "created by the command line" in planned.command("token list").json()["text"]


# --- the OpenAPI document -------------------------------------------------------------------------------------------


@pytest.fixture
def spec(planned: BotHarness) -> dict[str, Any]:
    reply = call(planned, OPENAPI, method="GET")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    return dict(reply.body)


def validator(spec: dict[str, Any], schema: str) -> jsonschema.Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_the_openapi_document_is_valid_and_lists_the_csv_columns(spec: dict[str, Any]) -> None:
    validate_spec(spec)
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == {CUSTOMERS, SIGNALS, OPENAPI}
    for kind, name in [(Kind.CUSTOMERS, "Customer"), (Kind.SIGNALS, "Signal")]:
        schema = spec["components"]["schemas"][name]
        assert tuple(schema["properties"]) == COLUMNS[kind] and tuple(schema["required"]) == REQUIRED[kind]


def test_real_answers_match_the_openapi_document(planned: BotHarness, token: str, spec: dict[str, Any]) -> None:
    batch = {"items": [{"id": "acme", "name": "Acme", "start": "2026-11-01"}, {"id": "x"}, {"id": "globex",
             "name": "Globex", "owner": sr.BOB, "segment": None}]}  # fmt: skip
    validator(spec, "CustomerBatch").validate({"items": [batch["items"][0], batch["items"][2]]})
    answers: list[tuple[str, str, Reply]] = [
        (CUSTOMERS, "200", call(planned, CUSTOMERS, batch, token=token)),
        (SIGNALS, "200", call(planned, SIGNALS, {"items": [{"id": "acme", "factor": "adoption", "value": 5},
                                                           {"id": 7, "factor": "x", "value": -1}]}, token=token)),
        (CUSTOMERS, "401", call(planned, CUSTOMERS, batch)),
        (CUSTOMERS, "403", call(planned, f"{CUSTOMERS}?channel=C0OTHER01", batch, token=token)),
        (CUSTOMERS, "413", call(planned, CUSTOMERS, customers(*map(str, range(MAX_ITEMS + 1))), token=token)),
        (SIGNALS, "422", call(planned, SIGNALS, raw=b'{"items": [1]}', token=token)),
    ]  # fmt: skip
    for path, status, reply in answers:
        assert str(reply.status) == status, (path, reply.body)
        declared = spec["paths"][path]["post"]["responses"][status]
        name = declared["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        validator(spec, name).validate(reply.body)
        for header in declared.get("headers", {}):
            assert header.lower() in reply.headers


def test_the_readme_links_the_openapi_document() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert OPENAPI in readme and "curl" in readme and "Idempotency-Key" in readme and "API_RATE_LIMIT" in readme
