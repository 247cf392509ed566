"""The plan document written by Step 3: Markdown with YAML frontmatter."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steps.document import (
    NOT_DISCUSSED,
    SUCCESS_MILESTONES_TITLE,
    TRAINING_TITLE,
    DocumentError,
    PlanDocument,
    compose_step3,
    markdown_text,
    mentioned_users,
    parse_document,
    render_document,
    step3_section_names,
    with_names,
)
from steps.outline import Credit, health_outline, milestones_outline, single_line, training_outline
from steps.step3 import STEP_ID, HealthModel, MilestonesSection, TrainingPlan

TODAY = datetime.date(2024, 5, 1)

MILESTONES_RAW: dict[str, Any] = {
    "milestones": [
        {
            "name": "Kickoff held",
            "description": "First call with the sponsor",
            "timeline_days": 14,
            "timeline_note": "after the contract is signed",
            "definition_of_done": "Kickoff call completed and notes shared",
            "points_on_time": 10,
            "points_missed": 15,
            "impact_note": "Sets the tone",
        },
        {
            "name": "Data imported",
            "description": "Historic data\nfrom the old CRM",
            "timeline_days": 30,
            "definition_of_done": "All accounts visible in the dashboard",
            "points_on_time": 5,
        },
        {
            "name": "First report sent",
            "timeline_days": 45,
            "definition_of_done": "Customer sent their first weekly report",
            "points_missed": 1,
            "impact_note": "Minor",
        },
    ],
    "retention_correlation": "Customers who reach all three renew at 92%",
    "missed_deadline_policy": "Owner calls within 2 business days",
}
HEALTH_RAW: dict[str, Any] = {
    "weights": {"adoption": 40, "engagement": 30, "tickets": 20, "milestones": 0},
    "custom_factors": [{"name": "NPS", "weight": 10}],
    "calculation_notes": "Weighted mean of the last 30 days",
    "critical_below": 40,
    "healthy_from": 70,
    "cadence": "weekly",
    "update_time": "09:00",
    "timezone": "Europe/Berlin",
    "monitors": ["U123", "U456"],
    "protocols": {"healthy": "Ask for a referral", "at_risk": "Schedule a check-in", "critical": "Escalate to VP"},
}
TRAINING_RAW: dict[str, Any] = {
    "documentation": "Help centre with FAQs",
    "video_tutorials": "Loom walkthroughs per feature",
    "community": "Community forum",
    "session_types": ["one_on_one", "webinar"],
    "schedule_curriculum": "Week 1 basics, week 2 reporting",
    "segment_customisation": "Enterprise gets a dedicated trainer",
    "certification": "yes",
    "certification_levels": "Bronze, Silver, Gold",
    "certification_adoption": "Certified admins roll out features faster",
}


def milestones(**overrides: Any) -> MilestonesSection:
    return MilestonesSection.model_validate({**MILESTONES_RAW, **overrides})


def health(**overrides: Any) -> HealthModel:
    return HealthModel.model_validate({**HEALTH_RAW, **overrides})


def training(**overrides: Any) -> TrainingPlan:
    return TrainingPlan.model_validate({**TRAINING_RAW, **overrides})


def compose(previous: str | None = None, plan_name: str = "Acme Rollout", **answers: Any) -> str:
    return compose_step3(
        previous,
        plan_name=plan_name,
        today=answers.pop("today", TODAY),
        milestones=answers.pop("milestones", milestones()),
        health=answers.pop("health", health()),
        training=answers.pop("training", training()),
        credits=answers.pop("credits", None),
    )


def frontmatter_of(text: str) -> dict[str, Any]:
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, text
    loaded = yaml.safe_load(match.group(1))
    assert isinstance(loaded, dict)
    return loaded


def test_section_names() -> None:
    assert step3_section_names() == ("Success Milestones", "Training / Education Plan")
    assert step3_section_names() == (SUCCESS_MILESTONES_TITLE, TRAINING_TITLE)


def test_full_compose_frontmatter() -> None:
    text = compose()
    assert text.startswith("---\n")
    frontmatter = frontmatter_of(text)
    assert frontmatter == {
        "document": "onboarding-flow",
        "project": "Acme Rollout",
        "date": "2024-05-01",
        "status": "in-progress",
        "stepsCompleted": [STEP_ID],
        "inputDocuments": [],
    }
    assert list(frontmatter) == ["document", "project", "date", "status", "stepsCompleted", "inputDocuments"]
    assert isinstance(frontmatter["date"], str)


def test_full_compose_headings_follow_the_product_spec() -> None:
    text = compose()
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Onboarding Flow: Acme Rollout",
        "## Success Milestones",
        "### Milestone 1: Kickoff held",
        "### Milestone 2: Data imported",
        "### Milestone 3: First report sent",
        "### Milestone Completion and Retention",
        "### When a Milestone Is Missed",
        "### Health Score Model",
        "## Training / Education Plan",
        "### Self-Service Resources",
        "### Guided Training Sessions",
        "### Documentation and Knowledge Base",
        "### Certification Program (if applicable)",
    ]
    # The title follows the frontmatter directly, as in the spec.
    assert "\n---\n# Onboarding Flow: Acme Rollout\n" in text


def test_full_compose_contains_every_answer_verbatim() -> None:
    text = compose()
    for raw in MILESTONES_RAW["milestones"]:
        for key in ("name", "description", "timeline_note", "definition_of_done", "impact_note"):
            if key in raw:
                for line in raw[key].split("\n"):
                    assert line in text, (key, line)
    for key in ("retention_correlation", "missed_deadline_policy"):
        assert MILESTONES_RAW[key] in text
    assert HEALTH_RAW["calculation_notes"] in text
    for protocol in HEALTH_RAW["protocols"].values():
        assert protocol in text
    for key, value in TRAINING_RAW.items():
        if isinstance(value, str) and key != "certification":
            assert value in text, key
    assert NOT_DISCUSSED not in text.split("## Training / Education Plan")[1]


def test_milestone_renders_as_labelled_bullets() -> None:
    text = compose()
    assert (
        "### Milestone 1: Kickoff held\n\n"
        "- **Description:** First call with the sponsor\n"
        "- **Timeline:** Day 14 from onboarding start — after the contract is signed\n"
        "- **Definition of Done:** Kickoff call completed and notes shared\n"
        "- **Health Score Impact:** +10 points when reached on time · −15 points when missed — Sets the tone\n"
    ) in text
    # A multi-line answer stays one list item: continuation lines are indented.
    assert "- **Description:** Historic data\n  from the old CRM\n" in text
    assert "- **Health Score Impact:** +5 points when reached on time\n" in text
    assert "- **Health Score Impact:** −1 point when missed — Minor\n" in text


def test_folded_text_is_credited_right_after_it_while_the_answer_holds_it() -> None:
    link = "https://acme.slack.com/archives/C1/p1796000400000100"
    text = compose(
        credits={
            "milestones.1.description": [Credit("from the old CRM", "U789", link)],
            "milestones.0.name": [Credit("Kickoff held", "U789", None)],
            "schedule_curriculum": [Credit("Week 1 basics", "U789", link)],
            "community": [Credit("Community forum", "U789", "https://x.example/a) [forged](https://evil.example")],
            "documentation": [Credit("a message since edited away", "U789", link)],
        }
    )
    credit = f"(from <@U789> in Slack, [original message]({link}))"
    assert f"- **Description:** Historic data\n  from the old CRM {credit}\n" in text
    assert "### Milestone 1: Kickoff held (from <@U789> in Slack)\n" in text
    assert f"Week 1 basics {credit}, week 2 reporting\n" in text  # the team wrote more after it
    assert "Community forum (from <@U789> in Slack)\n" in text  # a link that would break the Markdown is left out
    assert "- **Documentation, help articles and FAQs:** Help centre with FAQs\n" in text
    assert text.count("(from <@U789>") == 4


def test_outside_slack_mentions_become_names_except_in_code_and_frontmatter() -> None:
    document = '---\nproject: "<@U1>"\n---\n# Plan\n\n- **Owner:** <@U1>, <@U2|bob>\n\n```\n<@U3>\n```\n'
    assert mentioned_users(document) == ["U1", "U2"]
    assert with_names(document, {"U1": "Ann *A*", "U2": "  "}) == (
        '---\nproject: "<@U1>"\n---\n# Plan\n\n- **Owner:** Ann \\*A\\*, Slack user U2\n\n```\n<@U3>\n```\n'
    )


@given(st.text())
def test_a_name_shows_as_literal_markdown_on_one_line(name: str) -> None:
    shown = markdown_text(name)
    assert re.fullmatch(r"(?:\\[\\`*_\[\]<>|~!&]|[^\\`*_\[\]<>|~!&\n\r\u2028\u2029])*", shown), shown
    assert re.sub(r"\\(.)", r"\1", shown) == single_line(name)


def test_health_and_training_formatting() -> None:
    text = compose()
    assert "- **Factors and weights:** Feature adoption 40 · Engagement 30 · Support tickets 20 · " in text
    assert "Milestone completion 0 · NPS 10\n" in text
    assert "- **Score bands:** Healthy from 70 · At-risk 40–69 · Critical below 40\n" in text
    assert "- **Update cadence:** Weekly on Monday at 09:00 (Europe/Berlin)\n" in text
    assert "- **Monitored by:** <@U123>, <@U456>\n" in text
    assert "- **Response protocol — At-risk:** Schedule a check-in\n" in text
    assert "- **Live session types:** 1:1, Webinar\n" in text
    assert "- **Certification programme:** Yes\n" in text
    milestones_body = parse_document(text).section(SUCCESS_MILESTONES_TITLE)
    assert milestones_body is not None and "### Health Score Model" in milestones_body


def test_unanswered_optional_is_not_yet_discussed_and_nothing_invented() -> None:
    plan = milestones(missed_deadline_policy=None, retention_correlation="   ")
    text = compose(
        milestones=plan,
        health=health(calculation_notes=None, monitors=[], protocols={}),
        training=TrainingPlan(session_types=["group"]),
    )
    assert "- **What happens when a customer misses a deadline:** _Not yet discussed_\n" in text
    assert "- **Correlation with long-term retention:** _Not yet discussed_\n" in text
    assert "- **How the score is calculated:** _Not yet discussed_\n" in text
    assert "- **Monitored by:** _Not yet discussed_\n" in text
    assert "- **Documentation, help articles and FAQs:** _Not yet discussed_\n" in text
    assert "- **Certification programme:** _Not yet discussed_\n" in text
    # Milestone 3 has no description and no on-time points: only what was typed appears.
    third = text.split("### Milestone 3: First report sent")[1].split("###")[0]
    assert "- **Description:** _Not yet discussed_\n" in third
    assert "reached on time" not in third
    # Every bullet is either an answer or the placeholder: no example text sneaks in.
    for line in text.splitlines():
        if line.startswith("- **") and line.endswith(":**"):
            pytest.fail(f"empty bullet: {line}")


def test_outlines_for_unanswered_sections_keep_every_question() -> None:
    assert [block.heading for block in milestones_outline(None)] == [
        "Milestones",
        "Milestone Completion and Retention",
        "When a Milestone Is Missed",
    ]
    health_items = health_outline(None)[0].items
    assert len(health_items) == 8 and all(i.value is None and not i.users for i in health_items)
    assert [b.heading for b in training_outline(None)] == [b.heading for b in training_outline(training())]
    assert all(i.value is None for b in training_outline(None) for i in b.items)
    answered = health_outline(health())[0].items
    assert [i.label for i in answered] == [i.label for i in health_items]
    monitors = next(i for i in answered if i.label == "Monitored by")
    assert monitors.value is None and monitors.users == ("U123", "U456")


PREVIOUS = """---
document: onboarding-flow
project: Old Name
date: 2024-01-02
status: draft
stepsCompleted:
  - step-01-foo
inputDocuments: [brief.md]
owner: cs-team
---
# Onboarding Flow: Old Name

Intro kept as written.

## Automation Setup

- Trigger: **signup**

```
## not a heading
```

## Success Milestones

Old milestone text.
"""


def test_compose_over_previous_keeps_other_sections_and_keys() -> None:
    text = compose(PREVIOUS)
    frontmatter = frontmatter_of(text)
    assert frontmatter["stepsCompleted"] == ["step-01-foo", STEP_ID]
    assert frontmatter["date"] == "2024-05-01"
    assert frontmatter["status"] == "draft"
    assert frontmatter["inputDocuments"] == ["brief.md"]
    assert frontmatter["owner"] == "cs-team"
    assert list(frontmatter)[:6] == ["document", "project", "date", "status", "stepsCompleted", "inputDocuments"]
    doc = parse_document(text)
    assert [title for title, _ in doc.sections] == ["Automation Setup", SUCCESS_MILESTONES_TITLE, TRAINING_TITLE]
    assert doc.section("Automation Setup") == "- Trigger: **signup**\n\n```\n## not a heading\n```"
    assert doc.preamble == "Intro kept as written."
    assert "Old milestone text." not in text


def test_composing_twice_does_not_duplicate() -> None:
    once = compose(PREVIOUS)
    twice = compose(once)
    assert twice == once
    assert frontmatter_of(twice)["stepsCompleted"].count(STEP_ID) == 1
    assert twice.count("## Success Milestones\n") == 1
    assert twice.count("## Training / Education Plan\n") == 1
    assert twice.count("## Automation Setup\n") == 1


def test_recompose_replaces_answers_in_place() -> None:
    once = compose(PREVIOUS)
    changed = compose(once, milestones=milestones(missed_deadline_policy="Escalate at once"))
    assert "Escalate at once" in changed
    assert MILESTONES_RAW["missed_deadline_policy"] not in changed


def test_missing_sections_are_inserted_in_order() -> None:
    previous = "---\ndocument: onboarding-flow\n---\n# T\n\n## Training / Education Plan\n\nold\n\n## Later\n\nx\n"
    doc = parse_document(compose(previous))
    assert [title for title, _ in doc.sections] == [SUCCESS_MILESTONES_TITLE, TRAINING_TITLE, "Later"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# Onboarding Flow: x\n## Success Milestones\n", "frontmatter"),
        ("", "frontmatter"),
        ("---\ndocument: onboarding-flow\n# never closed\n", "not closed"),
        ("---\ndocument: [unclosed\n---\n# x\n", "cannot be read"),
        ("---\n- just\n- a list\n---\n# x\n", "mapping"),
        ("---\nkey: value\n  bad: indent\n---\n", "cannot be read"),
    ],
)
def test_malformed_document_raises(text: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        parse_document(text)
    with pytest.raises(DocumentError):
        compose(text)


def test_steps_completed_must_be_a_list() -> None:
    with pytest.raises(DocumentError):
        compose("---\nstepsCompleted: step-01-foo\n---\n")


def test_render_parse_round_trip_of_a_hand_written_document() -> None:
    doc = PlanDocument(
        frontmatter={"extra": 1, "document": "onboarding-flow"},
        title="Plan",
        sections=[("A", "text"), ("B", "")],
    )
    text = render_document(doc)
    assert list(frontmatter_of(text)) == ["document", "extra"]
    again = parse_document(text)
    assert (again.title, again.sections) == ("Plan", [("A", "text"), ("B", "")])
    assert render_document(again) == text


def test_unclosed_code_fence_in_another_section_cannot_swallow_ours() -> None:
    previous = "---\nstepsCompleted: []\n---\n# T\n\n## Automation Setup\n\n```\nunclosed\n"
    once = compose(previous)
    twice = compose(once)
    assert twice == once
    assert [t for t, _ in parse_document(twice).sections] == [
        "Automation Setup",
        SUCCESS_MILESTONES_TITLE,
        TRAINING_TITLE,
    ]


# Property: whatever people type, the document round-trips and the frontmatter stays YAML.

TRICKY = [
    "---",
    "# ",
    "## ",
    "### ",
    '"',
    "'",
    ":",
    ": ",
    "- ",
    "*",
    "_",
    "`",
    "```",
    "...",
    "{",
    "[",
    "&",
    "!",
    "%",
    "@",
    "|",
    ">",
    "\n",
    "\t",
    " ",
    "<@U1>",
    "\u2028",
    "é",
]
tricky_text = st.lists(
    st.one_of(st.sampled_from(TRICKY), st.text(st.characters(exclude_categories=("Cs",)), max_size=8)), max_size=12
).map("".join)
answer = tricky_text.filter(lambda s: bool(s.strip())).map(str.strip)
optional_answer = st.one_of(st.none(), answer)
plan_names = tricky_text.filter(lambda s: bool(s.strip()))


@st.composite
def milestone_sections(draw: st.DrawFn) -> MilestonesSection:
    names = draw(
        st.lists(
            answer.map(lambda s: s[:100].strip()).filter(bool),
            min_size=3,
            max_size=5,
            unique_by=str.casefold,
        )
    )
    return MilestonesSection.model_validate(
        {
            "milestones": [
                {
                    "name": name,
                    "description": draw(optional_answer),
                    "timeline_days": draw(st.integers(1, 3650)),
                    "timeline_note": draw(optional_answer),
                    "definition_of_done": draw(answer),
                    "points_on_time": draw(st.none() | st.integers(0, 100)),
                    "points_missed": draw(st.none() | st.integers(0, 100)),
                    "impact_note": draw(optional_answer),
                }
                for name in names
            ],
            "retention_correlation": draw(optional_answer),
            "missed_deadline_policy": draw(optional_answer),
        }
    )


@st.composite
def training_plans(draw: st.DrawFn) -> TrainingPlan:
    return TrainingPlan.model_validate(
        {
            "documentation": draw(answer),
            "community": draw(optional_answer),
            "schedule_curriculum": draw(optional_answer),
            "certification_adoption": draw(optional_answer),
        }
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan_name=plan_names,
    section=milestone_sections(),
    plan=training_plans(),
    notes=optional_answer,
    extra_key=plan_names,
)
def test_compose_parse_render_is_stable(
    plan_name: str, section: MilestonesSection, plan: TrainingPlan, notes: str | None, extra_key: str
) -> None:
    model = health(calculation_notes=notes, protocols={"critical": notes})
    text = compose(plan_name=plan_name, milestones=section, health=model, training=plan)

    doc = parse_document(text)
    assert render_document(doc) == text
    assert doc.frontmatter["project"] == plan_name
    assert doc.frontmatter["date"] == "2024-05-01"
    assert doc.frontmatter["stepsCompleted"] == [STEP_ID]
    assert frontmatter_of(text) == doc.frontmatter
    assert doc.title == "Onboarding Flow: " + " ".join(plan_name.split())
    assert [title for title, _ in doc.sections] == [SUCCESS_MILESTONES_TITLE, TRAINING_TITLE]

    # Every answer is in the document verbatim, line by line.
    texts = [section.retention_correlation, section.missed_deadline_policy, notes, plan.documentation]
    for milestone in section.milestones:
        texts += [milestone.description, milestone.definition_of_done, milestone.impact_note]
    for value in filter(None, texts):
        # A bare carriage return would end the line in Markdown too, so it is written as a newline.
        for line in re.split(r"\r\n|\r|\n", value):
            assert line.strip() in text

    # Saving again over the saved document (with a key another step added) changes nothing else.
    doc.frontmatter[f"x-{extra_key}"] = extra_key
    again = compose(render_document(doc), plan_name=plan_name, milestones=section, health=model, training=plan)
    assert parse_document(again).frontmatter[f"x-{extra_key}"] == extra_key
    assert parse_document(again).sections == doc.sections


def test_without_a_certification_programme_its_questions_do_not_apply() -> None:
    from steps.outline import NOT_APPLICABLE, training_outline
    from steps.step3 import TrainingPlan

    without = training_outline(TrainingPlan(documentation="Guide", certification="no"))
    items = {item.label: item.value for block in without for item in block.items}
    assert items["Levels or badges"] == NOT_APPLICABLE
    assert items["How certification drives adoption"] == NOT_APPLICABLE
    undecided = training_outline(TrainingPlan(documentation="Guide", certification="undecided"))
    assert {item.label: item.value for block in undecided for item in block.items}["Levels or badges"] is None
