"""The distill stage end to end on a tiny teacher: files, curve, resume, bad input."""

from __future__ import annotations

import json

import pytest

from polyglot_kd.pipeline import build
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import load_model_and_tokenizer
from polyglot_kd.data import corpora
from polyglot_kd.data.corpora import PAIRS_FILE


def test_distill_writes_a_loadable_student_with_curves(tiny_world):
    config, workdir = tiny_world
    manifests = build.run_build(config, workdir, ["trim", "distill", "eval"])
    out = workdir / "pt" / "distill"
    assert {"model", "metrics.jsonl", "loss_curve.png", "manifest.json"} <= {p.name for p in out.iterdir()}
    assert not (out / "checkpoints").exists()
    assert list(corpora.corpus_dir().glob(f"*/{PAIRS_FILE}"))  # it trained from the streamed corpus's file
    metrics = manifests["distill"]["metrics"]
    assert metrics["teacher_layers"] == [0] and metrics["params"] < metrics["params_base"]
    rows = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/dev_retrieval" in r for r in rows) and all("pooled" in r for r in rows)
    model, tok = load_model_and_tokenizer(out / "model")
    assert model.config.num_hidden_layers == 1 and len(tok) == model.config.vocab_size
    report = json.loads((workdir / "pt" / "eval" / "report.json").read_text())
    assert set(report["models"]) == {"teacher", "trim", "distill"}


def test_distill_without_a_trimmed_model_says_what_to_run(tiny_world):
    config, workdir = tiny_world
    with pytest.raises(PolyglotError, match="--stages trim,distill"):
        build.run_build(config, workdir, ["distill"])


def test_interrupted_distillation_resumes_from_its_checkpoint(tiny_world, monkeypatch):
    from polyglot_kd.engine import trainer as training

    config, workdir = tiny_world
    build.run_build(config, workdir, ["trim"])
    real = training.Trainer._one_step
    calls = {"n": 0}

    def flaky(self):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(training.Trainer, "_one_step", flaky)
    with pytest.raises(KeyboardInterrupt):
        build.run_build(config, workdir, ["distill"])
    assert (workdir / "pt" / ".distill.partial" / "checkpoints" / "step-0000003").is_dir()
    done = build.run_build(config, workdir, ["distill"])["distill"]
    assert done["metrics"]["training"]["steps"] == 4 and calls["n"] == 5  # resumed at step 3: one more step


def test_a_time_budget_that_stops_training_early_is_a_warning_and_recorded(tiny_world, caplog):
    from polyglot_kd.config import parse_config

    config, workdir = tiny_world
    data = config.to_dict()
    data["distill"] |= {"steps": 50, "time_budget_minutes": 1e-6, "eval_every": 0}
    config = parse_config(data)
    with caplog.at_level("WARNING"):
        manifests = build.run_build(config, workdir, ["trim", "distill", "eval"])
    note = "trained 1 of 50 steps (time budget)"
    assert any(r.levelname == "WARNING" and note in r.getMessage() for r in caplog.records)
    assert manifests["distill"]["metrics"]["stopped_early"] == note
    report = json.loads((workdir / "pt" / "eval" / "report.json").read_text())
    assert report["models"]["distill"]["stopped_early"] == note and "stopped_early" not in report["models"]["trim"]
    assert note in (workdir / "pt" / "eval" / "report.md").read_text()


def test_distillation_stops_by_steps_unless_a_budget_is_given():
    from polyglot_kd import cli
    from polyglot_kd.methods.bistil.config import DistillConfig
    from polyglot_kd.methods.stacking.config import StackConfig

    assert DistillConfig().time_budget_minutes == 0 and StackConfig().max_minutes == 0
    args = cli.build_parser().parse_args(["build", "pt", "--time-budget", "12.5"])
    assert cli.config_overrides(args, "distill") == {"time_budget_minutes": 12.5}
    assert cli.config_overrides(cli.build_parser().parse_args(["build", "pt"]), "distill") == {}
