"""Floors for ``bench.tick``: the same work as the tick's check, done the cheapest ways we know, on SQLite.

The same data (a copy of the database the tick runs on), the same instant, the same results that matter: every
newly overdue milestone alerted once (an ``alerts`` row, ``alerted_at`` set), every customer of every plan scored
with the plan's model and freshness (a ``health_scores`` row with a breakdown of the customer's values, and the
customer's score, band, scored_at and band as reported), and per plan the digest's figures (band counts, the
lowest at-risk and critical customers, the biggest movers). Not done: Slack messages and the outbox (a few hundred
rows, the same in every variant).

- ``sql``: set-based; the score is SQL expressions over a plan's customers joined to an aggregate of their
  milestones, written with INSERT ... SELECT and UPDATE ... FROM. SQLite's ``round()`` rounds half away from zero,
  Python's half to even, so a score can differ from the bot's by 0.1 on an exact tie: a floor, not a reference.
- ``loop``: a tight Python loop over raw ``sqlite3`` rows (no SQLAlchemy), scores computed inline, written with
  ``executemany``.

Both rescore every customer: the floor of the work the tick did before it learned to skip the unchanged ones.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from steps.health import DEFAULT_MIN_DATA_SHARE, DEFAULT_WINDOW_DAYS, MILESTONES_KEY, scoring_factors
from steps.step3 import HealthModel, MilestonesSection

MOVERS = 10
LISTED = 400


def _sql_datetime(at: datetime) -> str:
    """As SQLAlchemy stores a datetime on SQLite."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _plans(db: sqlite3.Connection) -> list[tuple[int, str, HealthModel, MilestonesSection, dict[str, int]]]:
    plans = []
    for plan_id, team_id, freshness in db.execute("SELECT id, team_id, freshness FROM plans ORDER BY id").fetchall():
        sections = {name: json.loads(answers) for name, answers in
                    db.execute("SELECT section, answers FROM plan_sections WHERE plan_id = ?", (plan_id,))}  # fmt: skip
        health = HealthModel.model_validate(sections["health"])
        milestones = MilestonesSection.model_validate(sections["milestones"])
        plans.append((plan_id, team_id, health, milestones, json.loads(freshness or "{}")))
    return plans


def _missed(db: sqlite3.Connection, plan_id: int, team_id: str, today: str, now: str) -> None:
    open_overdue = "plan_id = ? AND completed_on IS NULL AND alerted_at IS NULL AND due_date < ?"
    db.execute(
        "INSERT INTO alerts (team_id, plan_id, customer_id, milestone_id, kind, key, created_at) "
        "SELECT ?, plan_id, customer_id, id, 'missed', 'missed:' || id, ? "
        f"FROM customer_milestones WHERE {open_overdue}",
        (team_id, now, plan_id, today),
    )
    db.execute(f"UPDATE customer_milestones SET alerted_at = ? WHERE {open_overdue}", (now, plan_id, today))


def _digest(db: sqlite3.Connection, plan_id: int) -> None:
    db.execute("SELECT band, count(*) FROM customers WHERE plan_id = ? GROUP BY band", (plan_id,)).fetchall()
    db.execute(
        "SELECT id, name, score, band FROM customers WHERE plan_id = ? AND band IN ('at_risk', 'critical') "
        "ORDER BY score, name LIMIT ?", (plan_id, LISTED),
    ).fetchall()  # fmt: skip
    db.execute(
        "SELECT id, name, score, reported_score FROM customers WHERE plan_id = ? "
        "ORDER BY abs(coalesce(score, 0) - coalesce(reported_score, 0)) DESC LIMIT ?", (plan_id, MOVERS),
    ).fetchall()  # fmt: skip


def _windows(model: HealthModel, overrides: dict[str, int]) -> dict[str, int]:
    default = DEFAULT_WINDOW_DAYS[model.cadence]
    return {key: int(overrides.get(key, default)) for key, _, _ in scoring_factors(model) if key != MILESTONES_KEY}


def run_sql(path: str, now: datetime) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    today, at = now.date().isoformat(), _sql_datetime(now)
    for plan_id, team_id, model, milestones, overrides in _plans(db):
        db.execute("BEGIN IMMEDIATE")
        _missed(db, plan_id, team_id, today, at)
        factors = scoring_factors(model)
        windows = _windows(model, overrides)
        on_time_points = " ".join(f"WHEN {i} THEN {m.points_on_time or 0}" for i, m in enumerate(milestones.milestones))
        missed_points = " ".join(f"WHEN {i} THEN {m.points_missed or 0}" for i, m in enumerate(milestones.milestones))
        reached = "(completed_on IS NOT NULL AND completed_on <= due_date)"
        missed = "((completed_on IS NULL AND due_date < :today) OR completed_on > due_date)"
        fresh = {key: (now - timedelta(days=days)).isoformat() for key, days in windows.items()}
        value_columns = ", ".join(
            f"CASE WHEN json_extract(c.signal_times, '$.{key}') IS NULL "
            f"OR json_extract(c.signal_times, '$.{key}') >= :cut_{key} "
            f"THEN json_extract(c.signals, '$.{key}') END AS {key}"
            for key in windows
        )
        keys = [key for key, _, _ in factors]
        value = {key: ("ms.completion" if key == MILESTONES_KEY else f"v.{key}") for key in keys}
        weight_of = {key: weight for key, _, weight in factors}
        total = " + ".join(f"CASE WHEN {value[k]} IS NOT NULL THEN {weight_of[k]} ELSE 0 END" for k in keys)
        weighted = " + ".join(f"coalesce({value[k]}, 0) * {weight_of[k]}" for k in keys)
        signalled = " OR ".join(f"{value[k]} IS NOT NULL" for k in keys if k != MILESTONES_KEY) or "1"
        all_weight = sum(weight_of.values())
        min_share = DEFAULT_MIN_DATA_SHARE  # the bench's plans keep the default
        db.execute("DROP TABLE IF EXISTS temp.floor_scores")
        db.execute(
            f"""CREATE TEMP TABLE floor_scores AS
            WITH ms AS (
                SELECT customer_id,
                       100.0 * sum(CASE WHEN {reached} THEN 1 ELSE 0 END)
                             / nullif(sum(CASE WHEN {reached} OR {missed} THEN 1 ELSE 0 END), 0) AS completion,
                       sum(CASE WHEN {reached} THEN CASE position {on_time_points} ELSE 0 END
                                WHEN {missed} THEN -CASE position {missed_points} ELSE 0 END ELSE 0 END) AS adjust
                FROM customer_milestones WHERE plan_id = :plan GROUP BY customer_id),
            v AS (SELECT c.id, {value_columns} FROM customers c WHERE c.plan_id = :plan),
            s AS (SELECT v.*, ms.completion, coalesce(ms.adjust, 0) AS adjust, ({total}) AS total,
                         ({weighted}) AS weighted, ({signalled}) AS signalled
                  FROM v LEFT JOIN ms ON ms.customer_id = v.id)
            SELECT id, {", ".join(f"s.{k}" for k in windows)}, completion, adjust,
                   CASE WHEN total > 0 AND signalled AND total * 100 >= {min_share} * {all_weight}
                        THEN round(min(max(weighted / total + adjust, 0.0), 100.0), 1) END AS score
            FROM s""",
            {"plan": plan_id, "today": today, **{f"cut_{k}": v for k, v in fresh.items()}},
        )
        band = (f"CASE WHEN score IS NULL THEN NULL WHEN score >= {model.healthy_from} THEN 'healthy' "
                f"WHEN score < {model.critical_below} THEN 'critical' ELSE 'at_risk' END")  # fmt: skip
        breakdown = "json_object({})".format(", ".join(
            [f"'{k}', {k}" for k in windows] + ["'milestones', completion", "'adjust', adjust"]
        ))  # fmt: skip
        db.execute(
            "INSERT INTO health_scores (team_id, plan_id, customer_id, computed_at, score, band, breakdown) "
            f"SELECT ?, ?, id, ?, score, {band}, {breakdown} FROM temp.floor_scores", (team_id, plan_id, at),
        )  # fmt: skip
        db.execute(
            f"UPDATE customers SET score = f.score, band = f.band, scored_at = ?, reported_score = f.score, "
            f"reported_band = f.band FROM (SELECT id, score, {band} AS band FROM temp.floor_scores) AS f "
            "WHERE customers.id = f.id", (at,),
        )  # fmt: skip
        _digest(db, plan_id)
        db.execute("COMMIT")
    db.close()


def run_loop(path: str, now: datetime) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    today, at = now.date().isoformat(), _sql_datetime(now)
    loads = json.loads
    for plan_id, team_id, model, milestones, overrides in _plans(db):
        db.execute("BEGIN IMMEDIATE")
        _missed(db, plan_id, team_id, today, at)
        factors = scoring_factors(model)
        windows = _windows(model, overrides)
        cutoffs = {key: now - timedelta(days=days) for key, days in windows.items()}
        points = [(m.points_on_time or 0, m.points_missed or 0) for m in milestones.milestones]
        all_weight = sum(weight for _, _, weight in factors)
        states: dict[int, list[tuple[int, str, str | None]]] = defaultdict(list)
        for customer_id, position, due, done in db.execute(
            "SELECT customer_id, position, due_date, completed_on FROM customer_milestones WHERE plan_id = ?",
            (plan_id,),
        ):
            states[customer_id].append((position, due, done))
        history, changes = [], []
        for customer_id, signals, times in db.execute(
            "SELECT id, signals, signal_times FROM customers WHERE plan_id = ?", (plan_id,)
        ).fetchall():
            signals, times = loads(signals or "{}"), loads(times or "{}")
            counted = on_time = adjust = 0
            for position, due, done in states.get(customer_id, ()):
                if done is not None and done <= due:
                    counted, on_time = counted + 1, on_time + 1
                    adjust += points[position][0]
                elif (done is None and due < today) or (done is not None and done > due):
                    counted += 1
                    adjust -= points[position][1]
            values: dict[str, float | None] = {}
            total = 0
            weighted = 0.0
            for key, _, weight in factors:
                raw = (on_time * 100 / counted if counted else None) if key == MILESTONES_KEY else signals.get(key)
                observed = times.get(key)
                if raw is not None and observed is not None and datetime.fromisoformat(observed) < cutoffs[key]:
                    raw = None
                values[key] = raw
                if raw is not None:
                    total += weight
                    weighted += raw * weight
            score = None
            if total and total * 100 >= DEFAULT_MIN_DATA_SHARE * all_weight:
                score = round(min(max(weighted / total + adjust, 0.0), 100.0), 1)
            band = None if score is None else model.band_for(score).value
            history.append((team_id, plan_id, customer_id, at, score, band,
                            json.dumps({"values": values, "adjust": adjust})))  # fmt: skip
            changes.append((score, band, at, score, band, customer_id))
        db.executemany(
            "INSERT INTO health_scores (team_id, plan_id, customer_id, computed_at, score, band, breakdown) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", history,
        )  # fmt: skip
        db.executemany(
            "UPDATE customers SET score = ?, band = ?, scored_at = ?, reported_score = ?, reported_band = ? "
            "WHERE id = ?",
            changes,
        )
        _digest(db, plan_id)
        db.execute("COMMIT")
    db.close()


FLOORS = {"sql": run_sql, "loop": run_loop}
__all__ = ["FLOORS", "date"]
