"""`polyglot-kd summary --tasks`: every build's task results side by side."""

import json

import pytest

from polyglot_kd.reports import summary
from polyglot_kd.core.errors import PolyglotError


def _write(root, build, model, task, language, method, record):
    path = root / build / "tasks" / model / f"{task}.{language}.{method}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": model, "task": task, "language": language, "method": method} | record))


def _trained(mean, std, trained=0.5, stored=0.05):
    return {"metric": "accuracy", "mean": mean, "std": std, "seeds": [1, 2, 3],
            "parameters": {"trained_share": trained, "stored_share": stored}}


def test_trained_tables_merge_builds_and_show_the_teacher_once(tmp_path):
    for build in ("pt", "sw"):  # the teacher's cached result appears in every build
        _write(tmp_path, build, "teacher", "pos", "tr", "lt-sft", _trained(0.75, 0.004))
    _write(tmp_path, "pt", "trim", "pos", "tr", "lt-sft", _trained(0.593, 0.006))
    _write(tmp_path, "sw", "trim", "pos", "id", "lt-sft", _trained(0.739, 0.006, trained=0.7463, stored=0.0599))
    text = summary.trained_task_tables(tmp_path)
    assert text.count("| teacher |") == 1
    assert "| en->id | en->tr |" in text
    assert "| pt/trim | - | 59.3 ± 0.6 |" in text
    assert "| sw/trim | 73.9 ± 0.6 | - | 3 | 74.63% | 5.99% |" in text


def test_frozen_tables_one_row_per_build(tmp_path):
    scores = {"bible-test": {"f1": 0.9}, "udhr": {"f1": 0.8}}
    _write(tmp_path, "de", "teacher", "mining", "de", "frozen", {"metric": "f1", "datasets": scores})
    _write(tmp_path, "de", "trim", "mining", "de", "frozen",
           {"metric": "f1", "datasets": {"bible-test": {"f1": 0.85}}})
    text = summary.frozen_task_tables(tmp_path)
    assert "| lang | bible-test teacher | bible-test trim | udhr teacher | udhr trim |" in text
    assert "| de | 90.0 | 85.0 | 80.0 | - |" in text


def test_no_results_is_a_clear_error(tmp_path):
    with pytest.raises(PolyglotError, match="polyglot-kd eval"):
        summary.trained_task_tables(tmp_path)
