"""Validation of Step 3's answers, as they arrive from Slack modals."""

from __future__ import annotations

from typing import Any

import pytest

from steps.step3 import (
    MAX_NAME,
    MAX_TEXT,
    Answers,
    Band,
    Certification,
    HealthModel,
    MilestonesSection,
    SessionType,
    StandardFactor,
    TrainingPlan,
    parse_answers,
)
from steps.validation import FieldError, InvalidAnswers, Loc


def milestone(name: str, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"name": name, "timeline_days": "14", "definition_of_done": f"{name} is done"}
    raw.update(overrides)
    return raw


def milestones_raw(count: int = 3, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"milestones": [milestone(f"Milestone {i}") for i in range(1, count + 1)]}
    raw.update(overrides)
    return raw


def health_raw(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "weights": {"adoption": "40", "engagement": "30", "tickets": "20", "milestones": "10"},
        "critical_below": "40",
        "healthy_from": "70",
        "cadence": "weekly",
        "update_time": "09:00",
        "timezone": "Europe/Berlin",
    }
    raw.update(overrides)
    return raw


def errors_of(model: type[Answers], raw: dict[str, Any]) -> list[FieldError]:
    with pytest.raises(InvalidAnswers) as info:
        parse_answers(model, raw)
    assert info.value.errors, "InvalidAnswers must carry at least one field error"
    return info.value.errors


def error_at(errors: list[FieldError], loc: Loc) -> FieldError:
    matches = [e for e in errors if e.loc == loc]
    assert matches, f"no error at {loc}: {errors}"
    return matches[0]


# Milestones


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5])
def test_up_to_five_milestones_are_saved_and_three_complete_the_section(count: int) -> None:
    # Milestones are added one at a time: a section on its way to three is saved, not refused.
    section = parse_answers(MilestonesSection, milestones_raw(count))
    assert len(section.milestones) == count
    assert section.complete is (count >= 3)


def test_a_sixth_milestone_is_rejected() -> None:
    errors = errors_of(MilestonesSection, milestones_raw(6))
    assert error_at(errors, ("milestones",)).message == "Allows at most 5."


def test_duplicate_milestone_names_point_at_the_second_case_insensitively() -> None:
    raw = milestones_raw()
    raw["milestones"][2]["name"] = "  milestone 1 "
    errors = errors_of(MilestonesSection, raw)
    assert [e.loc for e in errors] == [("milestones", 2, "name")]
    assert "milestone 1" in errors[0].message


@pytest.mark.parametrize("field", ["name", "definition_of_done"])
@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_name_or_definition_of_done_is_required(field: str, blank: str | None) -> None:
    raw = milestones_raw()
    raw["milestones"][1][field] = blank
    errors = errors_of(MilestonesSection, raw)
    assert error_at(errors, ("milestones", 1, field)).message == "This is required."


@pytest.mark.parametrize("field", ["name", "definition_of_done", "timeline_days"])
def test_missing_required_milestone_field(field: str) -> None:
    raw = milestones_raw()
    del raw["milestones"][0][field]
    errors = errors_of(MilestonesSection, raw)
    assert error_at(errors, ("milestones", 0, field)).message == "This is required."


@pytest.mark.parametrize("days", ["0", "-3", 0])
def test_non_positive_timeline_is_rejected(days: str | int) -> None:
    raw = milestones_raw()
    raw["milestones"][0]["timeline_days"] = days
    errors = errors_of(MilestonesSection, raw)
    assert error_at(errors, ("milestones", 0, "timeline_days")).message == "Must be more than 0."


@pytest.mark.parametrize("days", ["two weeks", "14 days", "1.5"])
def test_non_numeric_timeline_is_rejected(days: str) -> None:
    raw = milestones_raw()
    raw["milestones"][0]["timeline_days"] = days
    errors = errors_of(MilestonesSection, raw)
    assert error_at(errors, ("milestones", 0, "timeline_days")).message.startswith("Enter a whole number")


def test_blank_optional_text_means_not_yet_discussed() -> None:
    raw = milestones_raw(retention_correlation="   ", missed_deadline_policy="")
    raw["milestones"][0].update(description="  ", timeline_note="", points_on_time="", impact_note=" ")
    section = parse_answers(MilestonesSection, raw)
    assert section.retention_correlation is None
    assert section.missed_deadline_policy is None
    first = section.milestones[0]
    assert (first.description, first.timeline_note, first.points_on_time, first.impact_note) == (None,) * 4


@pytest.mark.parametrize("field", ["description", "definition_of_done", "impact_note"])
def test_text_beyond_3000_characters_is_rejected(field: str) -> None:
    raw = milestones_raw()
    raw["milestones"][0][field] = "x" * (MAX_TEXT + 1)
    errors = errors_of(MilestonesSection, raw)
    assert "3000" in error_at(errors, ("milestones", 0, field)).message


@pytest.mark.parametrize("field", ["description", "impact_note"])
def test_optional_text_too_long_says_characters(field: str) -> None:
    raw = milestones_raw()
    raw["milestones"][0][field] = "x" * (MAX_TEXT + 1)
    errors = errors_of(MilestonesSection, raw)
    assert error_at(errors, ("milestones", 0, field)).message == "Keep this to 3000 characters or fewer."


# The constraints sit after a BeforeValidator, so pydantic reports a generic "too_long":
# it must still read as characters, not as a list of items.
@pytest.mark.parametrize(("field", "limit"), [("definition_of_done", MAX_TEXT), ("name", MAX_NAME)])
def test_required_text_too_long_says_characters(field: str, limit: int) -> None:
    raw = milestones_raw()
    raw["milestones"][0][field] = "x" * (limit + 1)
    errors = errors_of(MilestonesSection, raw)
    assert error_at(errors, ("milestones", 0, field)).message == f"Keep this to {limit} characters or fewer."


def test_plan_level_text_beyond_3000_characters_is_rejected() -> None:
    errors = errors_of(MilestonesSection, milestones_raw(missed_deadline_policy="y" * (MAX_TEXT + 1)))
    assert error_at(errors, ("missed_deadline_policy",)).message == "Keep this to 3000 characters or fewer."


def test_text_of_exactly_3000_characters_is_accepted() -> None:
    section = parse_answers(MilestonesSection, milestones_raw(retention_correlation="z" * MAX_TEXT))
    assert section.retention_correlation == "z" * MAX_TEXT


def test_unknown_field_is_rejected() -> None:
    errors_of(MilestonesSection, milestones_raw(surprise="!"))


# Health score model


def test_valid_health_model_parses_typed_values() -> None:
    model = parse_answers(HealthModel, health_raw(monitors=["U123ABC"], protocols={"critical": "Call them"}))
    assert model.weights[StandardFactor.ADOPTION] == 40
    assert model.total_weight == 100
    assert model.update_time.strftime("%H:%M") == "09:00"
    assert model.protocols[Band.CRITICAL] == "Call them"
    assert model.band_for(70) is Band.HEALTHY
    assert model.band_for(69.9) is Band.AT_RISK
    assert model.band_for(40) is Band.AT_RISK
    assert model.band_for(39) is Band.CRITICAL


def test_weights_not_totalling_100_point_at_adoption() -> None:
    raw = health_raw(weights={"adoption": "40", "engagement": "30", "tickets": "20", "milestones": "5"})
    errors = errors_of(HealthModel, raw)
    assert error_at(errors, ("weights", "adoption")).message == "The weights add up to 95; they must total 100."


def test_custom_factor_weights_count_towards_100() -> None:
    raw = health_raw(custom_factors=[{"name": "NPS", "weight": "10"}])
    errors = errors_of(HealthModel, raw)
    assert "110" in error_at(errors, ("weights", "adoption")).message
    raw["weights"]["milestones"] = "0"
    assert parse_answers(HealthModel, raw).total_weight == 100


def test_negative_weight_is_rejected() -> None:
    raw = health_raw(weights={"adoption": "60", "engagement": "30", "tickets": "20", "milestones": "-10"})
    errors = errors_of(HealthModel, raw)
    assert error_at(errors, ("weights", "milestones")).message == "Must be at least 0."


def test_missing_standard_weight_is_required() -> None:
    raw = health_raw(weights={"adoption": "40", "engagement": "30", "tickets": "30"})
    errors = errors_of(HealthModel, raw)
    assert error_at(errors, ("weights", "milestones")).message == "This is required."


def test_thresholds_out_of_order_point_at_healthy_from() -> None:
    errors = errors_of(HealthModel, health_raw(critical_below="70", healthy_from="40"))
    assert [e.loc for e in errors] == [("healthy_from",)]
    assert "70" in errors[0].message and "40" in errors[0].message


def test_equal_thresholds_are_rejected() -> None:
    errors = errors_of(HealthModel, health_raw(critical_below="50", healthy_from="50"))
    error_at(errors, ("healthy_from",))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("healthy_from", "101", "Must be at most 100."),
        ("critical_below", "-1", "Must be at least 0."),
        ("healthy_from", "-5", "Must be at least 0."),
        ("critical_below", "150", "Must be at most 100."),
    ],
)
def test_thresholds_outside_0_to_100_are_rejected(field: str, value: str, message: str) -> None:
    errors = errors_of(HealthModel, health_raw(**{field: value}))
    assert error_at(errors, (field,)).message == message


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe", "../etc/passwd", "Berlin"])
def test_unknown_time_zone_is_rejected(zone: str) -> None:
    errors = errors_of(HealthModel, health_raw(timezone=zone))
    assert "not a time zone" in error_at(errors, ("timezone",)).message


def test_bad_update_time_is_rejected() -> None:
    errors = errors_of(HealthModel, health_raw(update_time="9 o'clock"))
    assert error_at(errors, ("update_time",)).message == "Enter a time as HH:MM."


def test_unknown_cadence_is_rejected() -> None:
    errors = errors_of(HealthModel, health_raw(cadence="hourly"))
    assert error_at(errors, ("cadence",)).message == "Choose one of the options."


def test_monitor_must_be_a_slack_user_id() -> None:
    errors = errors_of(HealthModel, health_raw(monitors=["@channel"]))
    error_at(errors, ("monitors", 0))


def test_protocol_beyond_3000_characters_is_rejected() -> None:
    errors = errors_of(HealthModel, health_raw(protocols={"healthy": "p" * (MAX_TEXT + 1)}))
    assert error_at(errors, ("protocols", "healthy")).message == "Keep this to 3000 characters or fewer."


# Training plan


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"documentation": "", "video_tutorials": "   ", "session_types": []},
        {"certification": None, "certification_levels": " "},
    ],
)
def test_training_with_nothing_answered_is_rejected(raw: dict[str, Any]) -> None:
    errors = errors_of(TrainingPlan, raw)
    assert error_at(errors, ("documentation",)).message == "Answer at least one question of the training plan."


@pytest.mark.parametrize("raw", [{"session_types": ["group"]}, {"certification": "no"}, {"community": "Our forum"}])
def test_training_with_one_answer_is_valid(raw: dict[str, Any]) -> None:
    parse_answers(TrainingPlan, raw)


def test_unknown_session_type_is_rejected() -> None:
    errors = errors_of(TrainingPlan, {"session_types": ["carrier pigeon"]})
    error_at(errors, ("session_types", 0))


# Round trips through the JSON the bot stores


def full_milestones() -> MilestonesSection:
    raw = milestones_raw(5, retention_correlation="Customers who finish all five renew.", missed_deadline_policy="Call")
    raw["milestones"][0].update(
        description="Line one\nline two", timeline_note="after signing", points_on_time="10", points_missed="15"
    )
    raw["milestones"][1].update(impact_note="Matters a lot: “quoted”")
    return parse_answers(MilestonesSection, raw)


def full_health() -> HealthModel:
    return parse_answers(
        HealthModel,
        health_raw(
            weights={"adoption": "35", "engagement": "30", "tickets": "20", "milestones": "5"},
            custom_factors=[{"name": "NPS", "weight": "10"}],
            calculation_notes="Weighted mean",
            cadence="monthly",
            update_time="17:30",
            timezone="America/New_York",
            monitors=["U123", "W456ABC"],
            protocols={"healthy": "Upsell", "at_risk": "Check in", "critical": None},
        ),
    )


def full_training() -> TrainingPlan:
    return parse_answers(
        TrainingPlan,
        {
            "documentation": "Help centre",
            "video_tutorials": "Loom walkthroughs",
            "community": "Forum",
            "session_types": ["one_on_one", "group", "webinar"],
            "schedule_curriculum": "Weekly",
            "segment_customisation": "Enterprise gets 1:1",
            "certification": "yes",
            "certification_levels": "Bronze, Silver",
            "certification_adoption": "Badges unlock features",
        },
    )


@pytest.mark.parametrize(
    "build",
    [full_milestones, full_health, full_training, lambda: parse_answers(TrainingPlan, {"certification": "undecided"})],
)
def test_valid_answers_round_trip_through_json(build: Any) -> None:
    model = build()
    dumped = model.model_dump(mode="json")
    again = type(model).model_validate(dumped)
    assert again == model
    assert again.model_dump(mode="json") == dumped


def test_round_trip_keeps_enum_types() -> None:
    health = HealthModel.model_validate(full_health().model_dump(mode="json"))
    assert set(health.weights) == set(StandardFactor)
    assert health.protocols[Band.AT_RISK] == "Check in"
    training = TrainingPlan.model_validate(full_training().model_dump(mode="json"))
    assert training.session_types == [SessionType.ONE_ON_ONE, SessionType.GROUP, SessionType.WEBINAR]
    assert training.certification is Certification.YES
