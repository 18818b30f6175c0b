"""Building to a budget: parsing it, picking the frontier point, and a budget nothing meets."""

from __future__ import annotations

import json
import re

import pytest

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.pipeline import budget, build, frontier

DEV = frontier.SELECTION_SET


def _row(point, params, speedup, kept):
    return {"point": point, "layers": int(point[1]), "width": None, "rank": None, "params": params,
            "param_ratio": params / 100e6, "speedup": speedup, f"{DEV} kept": kept}


TABLE = {"language": "pt", "steps": 200, "teacher_params": 100e6, "points": [
    _row("L6", 19e6, 2.0, 0.95), _row("L4", 15e6, 3.0, 0.80), _row("L4r", 10e6, 3.1, 0.78), _row("L3r", 8e6, 3.9, 0.60)]}


@pytest.mark.parametrize("text, expected", [
    ("params=12M", budget.Budget("params", 12e6, False, "params=12M")),
    ("params=0.1x", budget.Budget("params", 0.1, True, "params=0.1x")),
    ("speedup=3", budget.Budget("speedup", 3.0, False, "speedup=3")),
    ("retention=97", budget.Budget("retention", 97.0, False, "retention=97")),
])
def test_budgets_parse(text, expected):
    assert budget.parse_budget(text) == expected


@pytest.mark.parametrize("text, message", [
    ("param=12M", "KEY one of ['params', 'speedup', 'retention'] (did you mean 'params'?)"),
    ("params", "expected KEY=VALUE"),
    ("speedup=3x", "'3x' is not a positive number for speedup"),
    ("params=-1", "'-1' is not a positive number for params"),
    ("retention=120", "at most 100"),
])
def test_bad_budgets_are_named(text, message):
    with pytest.raises(PolyglotError, match=re.escape(message)):
        budget.parse_budget(text)


def test_the_best_retention_within_the_budget_wins():
    row, why = budget.choose(TABLE, budget.parse_budget("params=12M"), DEV)
    assert row["point"] == "L4r" and "2 of 4 frontier points with at most 12.00M parameters" in why
    assert budget.choose(TABLE, budget.parse_budget("params=0.16x"), DEV)[0]["point"] == "L4"
    assert budget.choose(TABLE, budget.parse_budget("speedup=3.5"), DEV)[0]["point"] == "L3r"
    row, why = budget.choose(TABLE, budget.parse_budget("retention=78"), DEV)
    assert row["point"] == "L4r" and "the fewest parameters" in why


def test_several_budgets_must_all_hold():
    both = budget.parse_budgets("params=12M, speedup=3.05")
    assert [b.key for b in both] == ["params", "speedup"]
    row, why = budget.choose(TABLE, both, DEV)
    assert row["point"] == "L4r" and "at most 12.00M parameters and at least 3.05x the teacher's speed" in why
    assert budget.choose(TABLE, budget.parse_budgets("params=16M,speedup=2.5"), DEV)[0]["point"] == "L4"
    with pytest.raises(PolyglotError, match=r"budget params=12M and retention=90: .*the closest is L4r .*"
                                            r"78.0% of the teacher's bible-dev retrieval, below the 90% asked"):
        budget.choose(TABLE, budget.parse_budgets("params=12M,retention=90"), DEV)
    with pytest.raises(PolyglotError, match="each key once"):
        budget.parse_budgets("params=12M,params=10M")


def test_a_budget_no_point_meets_names_the_closest():
    with pytest.raises(PolyglotError, match=r"the closest is L3r \(8.00M.*: 8.00M parameters, above the 5.00M asked"):
        budget.choose(TABLE, budget.parse_budget("params=5M"), DEV)
    with pytest.raises(PolyglotError, match=r"the closest is L6 .*95.0% of the teacher's bible-dev retrieval, below the 97% asked"):
        budget.choose(TABLE, budget.parse_budget("retention=97"), DEV)


def test_budget_build_trains_the_chosen_point_and_records_why(tiny_world):
    config, workdir = tiny_world
    frontier.run_frontier(config, workdir, "1,1r8", steps=2, speed_sentences=3)
    chosen, point, why = budget.budget_config(config, workdir, budget.parse_budget("params=1x"))
    assert point.layers == 1 and chosen.distill.student_layers == 1 and chosen.distill.chosen_by.startswith("budget params=1x")
    manifest = build.run_build(chosen, workdir, ["trim", "distill"])["distill"]
    assert manifest["inputs"]["distill"]["embedding_rank"] == point.rank
    assert why in manifest["inputs"]["distill"]["chosen_by"]
    other = dict(json.loads((workdir / "pt" / frontier.FRONTIER_DIR / frontier.FRONTIER_JSON).read_text()), language="sw")
    (workdir / "pt" / frontier.FRONTIER_DIR / frontier.FRONTIER_JSON).write_text(json.dumps(other))
    with pytest.raises(PolyglotError, match="is for 'sw', not 'pt'"):
        budget.budget_config(config, workdir, budget.parse_budget("params=1x"))


def test_a_budget_point_brings_the_stages_it_needs():
    from polyglot_kd.pipeline.budget import stages_for
    from polyglot_kd.pipeline.frontier import Point

    stages = ["trim", "distill", "eval"]
    assert stages_for(Point(5), stages) == stages
    assert stages_for(Point(5, ofa=True), stages) == ["trim", "embed-init", "distill", "eval"]
    assert stages_for(Point(5, 0, 96, stacked=True), stages) == ["trim", "distill", "stack", "eval"]


def test_full_runs_at_the_builds_steps_outrank_the_short_runs():
    table = dict(TABLE, full_runs=[dict(_row("L4r", 10e6, 3.1, 0.97), steps=3600),
                                   dict(_row("L3r", 8e6, 3.9, 0.99), steps=3600),
                                   dict(_row("L4", 15e6, 3.0, 0.999), steps=1800)])
    # the short runs put L4r (78%) above L3r (60%); trained in full for 3,600 steps, L3r keeps more
    assert budget.choose(table, budget.parse_budget("params=12M"), DEV)[0]["point"] == "L4r"
    row, why = budget.choose(table, budget.parse_budget("params=12M"), DEV, steps=3600)
    assert row["point"] == "L3r" and "2 of 2 frontier points trained in full (3600 steps)" in why
    # a retention no short run reaches is met by the full runs
    assert budget.choose(table, budget.parse_budget("retention=98"), DEV, steps=3600)[0]["point"] == "L3r"
    # a full run of other steps is not evidence for this build
    row, why = budget.choose(table, budget.parse_budget("params=12M"), DEV, steps=1800)
    assert row["point"] == "L4r" and "frontier of 200 steps" in why
    # the short runs' choice (L4 at 16M) has no full run: it stands, however well the recorded shapes did
    row, why = budget.choose(table, budget.parse_budget("params=16M"), DEV, steps=3600)
    assert row["point"] == "L4" and "frontier of 200 steps" in why


def test_a_build_recorded_as_a_full_run_is_chosen_by_a_budget_build_of_its_steps(tiny_world):
    from polyglot_kd.pipeline import full_runs

    config, workdir = tiny_world
    # one short-run point, the build's own shape: the full run decides whatever the tiny scores tie at
    frontier.run_frontier(config, workdir, "1", steps=2, speed_sentences=3)
    table_path = workdir / "pt" / frontier.FRONTIER_DIR / frontier.FRONTIER_JSON
    build.run_build(config, workdir, ["trim", "distill"])  # the tiny config's student: 1 layer, 4 steps
    row = full_runs.record(config, workdir, table_path)
    assert row["point"] == "L1-Wfull" and row["steps"] == 4 and DEV in row and row["params"] > 0
    full_runs.record(config, workdir, table_path)  # recording again replaces the row
    table = json.loads(table_path.read_text())
    assert [(r["point"], r["steps"]) for r in table["full_runs"]] == [("L1-Wfull", 4)]
    assert "Trained in full" in frontier.render(table) and "| L1-Wfull |" in frontier.render(table)
    _, _, why = budget.budget_config(config, workdir, budget.parse_budget("params=1x"))
    assert "trained in full (4 steps)" in why
    with pytest.raises(PolyglotError, match=r"no frontier table at .*missing.json: compute one first"):
        full_runs.record(config, workdir, workdir / "missing.json")


def test_only_full_bottom_layer_students_are_recorded():
    from polyglot_kd.pipeline import full_runs

    manifest = {"inputs": {"base_stage": "trim", "distill": {"student_layers": 5, "layer_selection": "bottom", "layers": [],
                                                             "hidden_size": 0, "embedding_rank": 240, "ffn_size": 768,
                                                             "steps": 3600}},
                "metrics": {"training": {"steps": 3600}}}
    assert full_runs.build_point(manifest) == (frontier.Point(5, 0, 240, ffn=768), 3600)
    manifest["metrics"]["training"]["steps"] = 900
    with pytest.raises(PolyglotError, match="trained 900 of 3600 steps"):
        full_runs.build_point(manifest)
    manifest["inputs"]["base_stage"] = "embed-init"
    with pytest.raises(PolyglotError, match="only a student cut from the trimmed model"):
        full_runs.build_point(manifest)
