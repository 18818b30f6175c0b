"""The distill stage end to end on a tiny teacher: files, curve, resume, bad input."""

from __future__ import annotations

import json

import pytest

from polyglot_kd.pipeline import build
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import load_model_and_tokenizer


def test_distill_writes_a_loadable_student_with_curves(tiny_world):
    config, workdir = tiny_world
    manifests = build.run_build(config, workdir, ["trim", "distill", "eval"])
    out = workdir / "pt" / "distill"
    assert {"model", "metrics.jsonl", "loss_curve.png", "manifest.json"} <= {p.name for p in out.iterdir()}
    assert not (out / "checkpoints").exists()
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
