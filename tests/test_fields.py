"""The field catalogue (steps/fields.py) covers every answer of Step 3, and the forms are built from it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.blocks.modals import section_modal
from bot.metadata import ModalMetadata
from steps.fields import CATALOGUE, Kind, answer_field, field_label, find_field, text_fields
from steps.model_paths import Limits, limits_at, model_patterns
from steps.step3 import (
    MAX_MILESTONES,
    MAX_NAME,
    MAX_TEXT,
    MAX_TIMELINE_DAYS,
    SECTION_MODELS,
    HealthModel,
    Milestone,
    Section,
)


@pytest.mark.parametrize("section", list(Section))
def test_every_answer_of_every_section_model_has_one_catalogue_entry(section: Section) -> None:
    patterns = list(model_patterns(SECTION_MODELS[section]))
    catalogued = [f.path for f in CATALOGUE[section]]
    assert sorted(catalogued) == sorted(patterns)
    assert len(set(catalogued)) == len(catalogued)


def _inputs(section: Section, milestone: int | None = None, factors: int = 1) -> list[dict[str, Any]]:
    meta = ModalMetadata(
        team_id="T0TEAM001",
        user_id="U0ALICE01",
        plan_id=1,
        channel_id="C0PLAN001",
        plan_name="Acme",
        section=section,
        milestone=milestone,
        factor_count=factors,  # rows the person added with "Add a custom factor"
    )
    return [b for b in section_modal(meta, "{}", {})["blocks"] if b["type"] == "input"]


def _all_inputs(section: Section) -> list[dict[str, Any]]:
    """Every form of a section: milestones have one per milestone and one for the questions across them."""
    if section is not Section.MILESTONES:
        return _inputs(section)
    return [*_inputs(section), *(b for index in range(MAX_MILESTONES) for b in _inputs(section, index))]


@pytest.mark.parametrize("section", list(Section))
def test_every_input_of_the_forms_is_a_catalogue_path(section: Section) -> None:
    for block in _all_inputs(section):
        found = find_field(block["block_id"])
        assert found is not None, block["block_id"]
        assert found in CATALOGUE[section]
        assert block["optional"] is not found.required


@pytest.mark.parametrize("section", list(Section))
def test_the_form_asks_every_catalogued_answer(section: Section) -> None:
    asked = {answer_field(b["block_id"]).path for b in _all_inputs(section)}
    assert asked == {f.path for f in CATALOGUE[section] if f.kind is not Kind.ROWS}


@pytest.mark.parametrize("section", list(Section))
def test_the_forms_limits_are_the_models(section: Section) -> None:
    for block in _all_inputs(section):
        limits = limits_at(SECTION_MODELS[section], answer_field(block["block_id"]).path)
        element = block["element"]
        if element["type"] == "plain_text_input":
            assert element["max_length"] == limits.max_length
        if element["type"] == "number_input":
            assert (element["min_value"], element["max_value"]) == (str(limits.minimum), str(limits.maximum))


def test_limits_are_read_through_optionals_rows_and_dicts() -> None:
    assert limits_at(Milestone, "name") == Limits(max_length=MAX_NAME)
    assert limits_at(Milestone, "timeline_days") == Limits(minimum=1, maximum=MAX_TIMELINE_DAYS)  # more than 0
    assert limits_at(Milestone, "points_on_time") == Limits(minimum=0, maximum=100)  # inside an Optional
    assert limits_at(HealthModel, "weights.adoption") == Limits(minimum=0, maximum=100)  # a dict's values
    assert limits_at(HealthModel, "custom_factors.*.name") == Limits(max_length=MAX_NAME)  # a row's field
    assert limits_at(HealthModel, "protocols.healthy") == Limits(max_length=MAX_TEXT)
    with pytest.raises(KeyError):
        limits_at(HealthModel, "critical_below.deeper")


def test_labels_name_one_field_each() -> None:
    labels = [field_label(f.at(0)) for fields in CATALOGUE.values() for f in fields]
    assert len(set(labels)) == len(labels)


def test_labels_of_rows_say_which_row() -> None:
    assert field_label("milestones.1.definition_of_done") == "Milestone 2 · definition of done"
    assert field_label("custom_factors.0.weight") == "Custom factor 1 · weight"
    assert field_label("weights.adoption") == "Feature adoption weight"
    assert field_label("protocols.at_risk") == "Response protocol · At-risk"
    # Paths no form has any longer still read as something.
    assert field_label("milestones.0.owner") == "Milestone 1 · owner"
    assert field_label("retired_question") == "Retired question"


def test_text_fields_are_the_free_text_answers_row_by_row() -> None:
    answers = {"milestones": [{"name": "A"}, {"name": "B"}]}
    paths = [path for path, _ in text_fields(Section.MILESTONES, answers)]
    assert paths[:6] == [
        "milestones.0.name",
        "milestones.0.description",
        "milestones.0.timeline_note",
        "milestones.0.definition_of_done",
        "milestones.0.impact_note",
        "milestones.1.name",
    ]
    assert paths[-2:] == ["retention_correlation", "missed_deadline_policy"]
    health = [path for path, _ in text_fields(Section.HEALTH, {"custom_factors": [{"name": "NPS", "weight": 5}]})]
    assert health == ["calculation_notes", "protocols.healthy", "protocols.at_risk", "protocols.critical"]
