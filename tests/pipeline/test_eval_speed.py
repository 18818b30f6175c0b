"""The eval stage times every evaluated model beside the teacher, and the leaderboard shows it."""

from __future__ import annotations

import json

import pytest

from polyglot_kd.config import parse_config
from polyglot_kd.core.errors import ConfigError
from polyglot_kd.pipeline import build, speed
from polyglot_kd.reports import leaderboard
from tests.tiny import PT_TEST


def test_every_model_is_timed_beside_the_teacher_in_one_run(tiny_world, monkeypatch):
    config, workdir = tiny_world
    calls = []
    real_rates = speed.rates

    def spy(encoders, texts, **kwargs):
        calls.append((sorted(encoders), list(texts), kwargs))
        return real_rates(encoders, texts, **kwargs)

    monkeypatch.setattr(speed, "rates", spy)
    config.eval.speed_sentences, config.eval.speed_rounds = 2, 1
    build.run_build(config, workdir, ["trim", "eval"])
    # one run, both models taking turns, on the first held-out target sentences
    assert calls == [(["teacher", "trim"], list(PT_TEST[:2]), {"batch_size": config.eval.batch_size, "rounds": 1})]
    report = json.loads((workdir / "pt/eval/report.json").read_text())
    models = report["models"]
    assert models["teacher"]["speedup"] == 1.0 and models["trim"]["speedup"] > 0
    assert report["speed"]["sentences"] == 2 and set(report["speed"]["sentences_per_second"]) == {"teacher", "trim"}
    assert "Encoding speed-up over the teacher (2 held-out sentences" in (workdir / "pt/eval/report.md").read_text()
    rows, _ = leaderboard.collect(workdir)
    assert [(r.model, r.speedup) for r in rows] == [("teacher", 1.0), ("trim", models["trim"]["speedup"])]


def test_zero_speed_sentences_times_nothing(tiny_world, monkeypatch):
    config, workdir = tiny_world
    monkeypatch.setattr(speed, "rates", lambda *a, **k: pytest.fail("timed although eval.speed_sentences = 0"))
    config.eval.speed_sentences = 0
    build.run_build(config, workdir, ["trim", "eval"])
    report = json.loads((workdir / "pt/eval/report.json").read_text())
    assert report["speed"] is None and not any("speedup" in m for m in report["models"].values())
    assert leaderboard.collect(workdir)[0][1].speedup is None


def test_speed_settings_are_checked():
    with pytest.raises(ConfigError) as err:
        parse_config({"code": "pt", "corpus": {"bible": "a"}, "eval": {"speed_sentences": -1, "speed_rounds": 0}})
    assert "eval.speed_sentences: -1 must be >= 0" in str(err.value) and "eval.speed_rounds: 0 must be >= 1" in str(err.value)
