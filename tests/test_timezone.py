"""The health model's time zone: any IANA zone, found by typing, starting at the person's own Slack time zone."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sandbox.blockkit import validate_options
from sandbox.payloads import ALICE, BOB, OTHER_TEAM
from steps.zones import known_zones, search_zones
from tests.support.answers import HEALTH, MILESTONES, TRAINING, answer, open_section, with_rows
from tests.support.harness import BotHarness

# Nothing here depends on the database: SQLite only, to keep the suite fast.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _zone_element(view: dict[str, Any]) -> dict[str, Any]:
    (block,) = (b for b in view["blocks"] if b.get("block_id") == "timezone")
    element: dict[str, Any] = block["element"]
    return element


def _options(bot: BotHarness, view: dict[str, Any], query: str, **kwargs: Any) -> list[dict[str, Any]]:
    response = bot.suggest(view, "timezone", query, **kwargs)
    assert response.status == 200
    body = response.json()
    assert validate_options(body) == [], "Slack would show no options"
    options: list[dict[str, Any]] = body["options"]
    return options


def _values(options: list[dict[str, Any]]) -> list[str]:
    return [o["value"] for o in options]


def _health_form(bot: BotHarness) -> dict[str, Any]:
    bot.command("step3")
    return open_section(bot, "health")


@sqlite_only
def test_the_zone_is_searched_as_typed_not_picked_from_a_short_list(bot: BotHarness) -> None:
    element = _zone_element(_health_form(bot))
    assert element["type"] == "external_select" and "options" not in element
    assert element["min_query_length"] == 2


@sqlite_only
@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
        ("london", "Europe/London"),
        ("LONDON", "Europe/London"),
        ("tokyo", "Asia/Tokyo"),
        ("buenos aires", "America/Argentina/Buenos_Aires"),
        ("america/new york", "America/New_York"),
    ],
)
def test_typing_a_city_offers_its_zone_first(bot: BotHarness, typed: str, first: str) -> None:
    options = _options(bot, _health_form(bot), typed)
    assert _values(options)[0] == first
    assert options[0]["text"]["text"] == first.replace("_", " ")


@sqlite_only
def test_city_matches_come_before_matches_elsewhere_in_the_name(bot: BotHarness) -> None:
    found = _values(_options(bot, _health_form(bot), "lo"))
    city = [z for z in found if z.rsplit("/", 1)[-1].lower().startswith("lo")]
    inside = [z for z in found if z not in city]
    assert "Europe/London" in city and "America/Los_Angeles" in city and "Asia/Colombo" in inside
    assert found == city + inside


@sqlite_only
def test_a_short_empty_or_unknown_query_offers_nothing_or_at_most_a_hundred(bot: BotHarness) -> None:
    view = _health_form(bot)
    assert _options(bot, view, "") == []
    assert _options(bot, view, "   ") == []
    assert _options(bot, view, "atlantis") == []
    many = _options(bot, view, "a")  # Slack waits for two characters; a request with one is still answered
    assert len(many) == 100 and all(len(o["text"]["text"]) <= 75 for o in many)
    assert _values(many)[0] == "Africa/Abidjan"  # cities starting with "a" first


def test_every_zone_the_server_knows_can_be_found() -> None:
    for zone in known_zones():
        assert search_zones(zone)[0] == zone
        assert len(zone.replace("_", " ")) <= 75 and len(zone) <= 150  # Slack's option text and value limits


@sqlite_only
def test_only_the_person_whose_form_it_is_gets_options(bot: BotHarness) -> None:
    view = _health_form(bot)
    assert _options(bot, view, "london", user=BOB) == []
    elsewhere = {**view, "team_id": OTHER_TEAM, "app_installed_team_id": OTHER_TEAM}  # Bolt reads the view's team
    assert _options(bot, elsewhere, "london", team=OTHER_TEAM) == []
    forged = {**view, "private_metadata": "not-ours"}
    assert _options(bot, forged, "london") == []
    assert _values(_options(bot, view, "london")) == ["Europe/London"]


@sqlite_only
def test_the_form_starts_at_the_openers_slack_time_zone(bot: BotHarness) -> None:
    bot.fake.users[ALICE]["tz"] = "America/New_York"
    element = _zone_element(_health_form(bot))
    assert element["initial_option"]["value"] == "America/New_York"
    assert element["initial_option"]["text"]["text"] == "America/New York"
    (asked,) = bot.fake.calls_to("users.info")
    assert asked.args["user"] == ALICE
    open_section(bot, "milestones")
    open_section(bot, "training")
    assert len(bot.fake.calls_to("users.info")) == 1, "only the health form asks for a time zone"


@sqlite_only
def test_the_saved_zone_wins_over_the_openers(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "health", {**HEALTH, "timezone": "America/Argentina/Ushuaia"})
    bot.fake.users[ALICE]["tz"] = "America/New_York"
    asked = len(bot.fake.calls_to("users.info"))
    element = _zone_element(open_section(bot, "health"))
    assert element["initial_option"]["value"] == "America/Argentina/Ushuaia"
    assert len(bot.fake.calls_to("users.info")) == asked, "a saved zone needs no lookup"


@sqlite_only
@pytest.mark.parametrize(
    "trouble",
    [
        {"error": "internal_error", "status": 500},
        {"error": "ratelimited", "status": 429, "headers": {"Retry-After": "30"}},
        {"error": "user_not_found"},
    ],
)
def test_the_form_opens_without_a_zone_when_slack_does_not_say(bot: BotHarness, trouble: dict[str, Any]) -> None:
    bot.command("step3")
    bot.fake.fail("users.info", **trouble)
    view = open_section(bot, "health")
    assert "initial_option" not in _zone_element(view)
    assert len(bot.fake.calls_to("users.info")) == 1, "never retried while the trigger_id runs out"
    assert view["blocks"]


@sqlite_only
def test_a_slow_users_info_does_not_hold_the_form_past_its_trigger(bot: BotHarness) -> None:
    bot.command("step3")
    bot.fake.fail("users.info", stall=2.5)  # its answer would come after the 1 s the bot waits
    started = time.monotonic()
    view = open_section(bot, "health")
    assert time.monotonic() - started < 2.5
    assert "initial_option" not in _zone_element(view)
    assert len(bot.fake.calls_to("users.info")) == 1


@sqlite_only
@pytest.mark.parametrize("tz", [None, "", "Mars/Olympus_Mons"])
def test_a_slack_zone_the_server_does_not_know_is_not_offered(bot: BotHarness, tz: str | None) -> None:
    bot.fake.users[ALICE]["tz"] = tz
    element = _zone_element(_health_form(bot))
    assert element["type"] == "external_select" and "initial_option" not in element
    assert len(bot.fake.calls_to("users.info")) == 1


@sqlite_only
@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "europe/berlin", "Europe/Berlin/Mitte", "x" * 200])
def test_a_zone_the_form_never_offered_is_refused_at_the_field(bot: BotHarness, zone: str) -> None:
    bot.command("step3")
    view = with_rows(bot, open_section(bot, "health"), HEALTH)
    body = bot.submit(view, {**HEALTH, "timezone": zone}).json()
    assert body["response_action"] == "errors"
    assert "not a time zone this server knows" in body["errors"]["timezone"]
    assert "Not yet answered" in str(bot.hub()["blocks"]), "nothing was saved"


@sqlite_only
def test_a_zone_found_by_typing_is_saved_and_the_document_states_it(bot: BotHarness) -> None:
    bot.command("step3")
    answer(bot, "milestones", MILESTONES)
    answer(bot, "training", TRAINING)
    view = with_rows(bot, open_section(bot, "health"), HEALTH)
    (chatham,) = (o for o in _options(bot, view, "chatham") if o["value"] == "Pacific/Chatham")
    response = bot.submit(view, {**HEALTH, "timezone": chatham})  # the option as Slack echoes it back
    assert response.status == 200 and not response.body, response.body
    reopened = _zone_element(open_section(bot, "health"))
    assert reopened["initial_option"] == chatham
    bot.click(bot.hub(), "review_save")
    assert "(Pacific/Chatham)" in str(bot.synthesis()["blocks"])
    bot.click(bot.synthesis(), "confirm_save")
    (upload,) = bot.fake.uploads.values()
    assert "at 09:00 (Pacific/Chatham)" in upload["content"].decode()
