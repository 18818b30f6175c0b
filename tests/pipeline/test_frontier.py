"""The frontier: a grid of briefly distilled students on the tiny world, measured side by side."""

from __future__ import annotations

import json

import pytest

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.pipeline import frontier


def test_points_parse_and_bad_ones_are_named_at_once():
    assert frontier.parse_points("6x384, 4x192,6", 12, 384, 12) == [
        frontier.Point(6, 0), frontier.Point(4, 192)]  # 6 and 6x384 are the same point
    with pytest.raises(PolyglotError) as err:
        frontier.parse_points("13x384,6x256,6x768,six", 12, 384, 12)
    text = str(err.value)
    assert "13 layers; the teacher has 12" in text and "width 256 must be a multiple of the teacher's 12" in text
    assert "width 768" in text and "'six' is not LAYERSxWIDTH" in text
    assert frontier.parse_points("4x384r128,6r64", 12, 384, 12) == [frontier.Point(4, 0, 128), frontier.Point(6, 0, 64)]
    assert frontier.Point(4, 0, 128).name == "L4-Wfull-r128"
    with pytest.raises(PolyglotError, match="'4x192r256': embedding rank 256 is above the width 192"):
        frontier.parse_points("4x192r256", 12, 384, 12)
    assert frontier.parse_points("5x384f768r192,5f1536", 12, 384, 12, teacher_ffn=1536) == [
        frontier.Point(5, 0, 192, ffn=768), frontier.Point(5)]  # the teacher's inner size is the plain point
    assert frontier.Point(5, 0, 192, ffn=768).name == "L5-Wfull-f768-r192"
    with pytest.raises(PolyglotError, match="'5f2000': FFN size 2000: expected 1..1536"):
        frontier.parse_points("5f2000", 12, 384, 12, teacher_ffn=1536)


def test_frontier_trains_each_point_once_and_marks_the_pareto_points(tiny_world, monkeypatch):
    config, workdir = tiny_world
    table = frontier.run_frontier(config, workdir, "1,2,1x16,1f16r8", steps=2, speed_sentences=3)
    names = [r["point"] for r in table["points"]]
    assert names == ["L1-Wfull", "L2-Wfull", "L1-W16", "L1-Wfull-f16-r8"]
    assert table["selection"] in table["teacher"]  # the budget's selection set is scored beside the test sets
    full, factorised = table["points"][0], table["points"][3]
    assert factorised["params"] < full["params"] and frontier.point_of(factorised) == frontier.Point(1, 0, 8, ffn=16)
    ffn_config = json.loads((workdir / "pt" / frontier.FRONTIER_DIR / "L1-Wfull-f16-r8" / "distill" / "model"
                             / "config.json").read_text())
    assert ffn_config["intermediate_size"] == 16 and ffn_config["embedding_rank"] == 8
    small = next(r for r in table["points"] if r["point"] == "L1-W16")
    assert small["params"] < min(r["params"] for r in table["points"] if r["point"] in ("L1-Wfull", "L2-Wfull"))
    assert small["pareto_params"]  # the smallest point is on the size frontier whatever it keeps
    out = workdir / "pt" / frontier.FRONTIER_DIR
    assert json.loads((out / frontier.FRONTIER_JSON).read_text())["points"] == table["points"]
    assert "| L1-W16 |" in (out / frontier.FRONTIER_MD).read_text() and (out / frontier.FRONTIER_PNG).stat().st_size > 1000
    finished = (out / "L1-W16" / "distill" / "manifest.json").stat().st_mtime_ns
    measured = (out / "L1-W16" / frontier.POINT_JSON).stat().st_mtime_ns
    monkeypatch.setattr("polyglot_kd.pipeline.speed.side_by_side", lambda *a, **k: pytest.fail("re-measured"))
    again = frontier.run_frontier(config, workdir, "1x16", steps=2, speed_sentences=3)
    assert (out / "L1-W16" / "distill" / "manifest.json").stat().st_mtime_ns == finished  # not retrained
    assert (out / "L1-W16" / frontier.POINT_JSON).stat().st_mtime_ns == measured  # nor re-measured
    def measured_only(row):
        return {k: v for k, v in row.items() if not k.startswith("pareto")}

    assert [measured_only(r) for r in again["points"]] == [measured_only(small)]


def test_pareto_marks_and_a_teacher_that_scores_zero():
    teacher = {"params": 100, "retrieval": {"bible": {"mean": 0.0}}}
    speed = type("Speed", (), {"speedup": 2.0, "model_per_second": 10.0})
    rows = [frontier.row_of(frontier.Point(2), {"params": 50, "retrieval": {"bible": {"mean": 0.3}}}, teacher, speed),
            frontier.row_of(frontier.Point(1), {"params": 30, "retrieval": {"bible": {"mean": 0.2}}}, teacher, speed),
            frontier.row_of(frontier.Point(1, 8), {"params": 40, "retrieval": {"bible": {"mean": 0.1}}}, teacher, speed)]
    assert rows[0]["bible kept"] is None  # no division by the teacher's zero
    frontier._mark_pareto(rows, "bible")
    assert [r["pareto_params"] for r in rows] == [True, True, False]  # L1-W8 is bigger and worse than L1
    assert [r["pareto_speed"] for r in rows] == [True, False, False]  # equal speed: only the best score
    text = frontier.render({"language": "pt", "steps": 2, "teacher": {"bible": 0.0}, "points": rows})
    assert "| L2-Wfull | 0.00M | 0.500 | 2.00x | 30.0 (n/a) | size, speed |" in text


def _table(points, steps=200, teacher=None, full_runs=()):
    teacher = teacher or {"bible": 0.9, "dev": 0.8}
    speed = type("Speed", (), {"speedup": 2.0, "model_per_second": 10.0})
    rows = [frontier.row_of(frontier.Point(layers), {"params": params, "retrieval": {
        name: {"mean": score} for name in teacher}}, {"params": 100, "retrieval": {
        name: {"mean": value} for name, value in teacher.items()}}, speed) for layers, params, score in points]
    return {"language": "pt", "steps": steps, "teacher_params": 100, "selection": "dev", "teacher": dict(teacher),
            "points": rows, "full_runs": list(full_runs)}


def test_merge_adds_and_replaces_points_and_keeps_full_runs(tmp_path):
    full = {**_table([(5, 40, 0.85)])["points"][0], "steps": 3600}
    shipped = _table([(6, 50, 0.6), (4, 30, 0.5)], full_runs=[full])
    new = _table([(4, 30, 0.7), (2, 20, 0.4)], teacher={"bible": 0.9, "dev": 0.8, "messages": 0.7})
    merged = frontier.merge(shipped, new)
    assert [r["point"] for r in merged["points"]] == ["L6-Wfull", "L4-Wfull", "L2-Wfull"]  # replaced in place
    assert merged["points"][1]["bible"] == 0.7 and merged["full_runs"] == [full]
    assert list(merged["teacher"]) == ["bible", "dev", "messages"]
    # L4 now keeps more than L6 at fewer parameters: L6 leaves the size frontier
    assert [r["pareto_params"] for r in merged["points"]] == [False, True, True]
    frontier.write_table(merged, tmp_path / "frontier-pt.json")
    assert json.loads((tmp_path / "frontier-pt.json").read_text())["points"] == merged["points"]
    assert "3600" in (tmp_path / "frontier-pt.md").read_text()  # the full run's row
    assert (tmp_path / "frontier-pt.png").stat().st_size > 1000


def test_merge_refuses_other_steps_or_another_teacher_by_name():
    shipped = _table([(6, 50, 0.6)])
    with pytest.raises(PolyglotError, match="'pt' points of 200 steps; these are 'pt' points of 100 steps"):
        frontier.merge(shipped, _table([(4, 30, 0.7)], steps=100), "eval/frontier-pt.json")
    with pytest.raises(PolyglotError, match=r"another teacher or other sentences \(bible: 90.00 there, 80.00 now\)"):
        frontier.merge(shipped, _table([(4, 30, 0.7)], teacher={"bible": 0.8, "dev": 0.8}))


def test_frontier_into_a_table_of_other_steps_fails_before_training(tmp_path, monkeypatch, capsys):
    from polyglot_kd import cli

    table = tmp_path / "frontier-pt.json"
    table.write_text(json.dumps(_table([(6, 50, 0.6)], steps=100)))
    monkeypatch.setattr(frontier, "run_frontier", lambda *a, **k: pytest.fail("trained before the check"))
    assert cli.main(["frontier", "pt", "--points", "4x384", "--steps", "200", "--into", str(table),
                     "--workdir", str(tmp_path)]) != 0
    assert "points of 100 steps" in capsys.readouterr().err


def test_into_a_missing_table_or_another_language_names_what_to_give(tmp_path):
    with pytest.raises(PolyglotError, match=r"no frontier table at .*nothere.json to add points to: compute one first"):
        frontier.check_into(tmp_path / "nothere.json", "pt", 200)
    table = tmp_path / "frontier-sw.json"
    table.write_text(json.dumps({**_table([(6, 50, 0.6)]), "language": "sw"}))
    with pytest.raises(PolyglotError, match=r"holds 'sw' points .* these are 'pt' points .*\(name frontier-pt.json\)"):
        frontier.check_into(table, "pt", 200)
