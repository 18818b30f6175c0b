"""Build bookkeeping end to end on a tiny local teacher and tiny stand-in corpora."""

from __future__ import annotations

import json

import pytest

from polyglot_kd.core.files import sha256
from polyglot_kd.pipeline import build
from polyglot_kd.cli import main
from polyglot_kd.core.loading import load_model_and_tokenizer

def test_build_writes_exactly_these_files(tiny_world):
    config, workdir = tiny_world
    build.run_build(config, workdir, ["trim", "eval"])
    files = sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*") if p.is_file())
    assert files == sorted(["pt/.lock",
        "pt/trim/manifest.json", "pt/trim/config.json", "pt/trim/kept_ids.npy",
        "pt/trim/model/config.json", "pt/trim/model/model.safetensors", "pt/trim/model/tokenizer.json",
        "pt/trim/model/tokenizer_config.json", "pt/trim/model/special_tokens_map.json",
        "pt/eval/manifest.json", "pt/eval/config.json", "pt/eval/report.json", "pt/eval/report.md",
    ])
    manifest = json.loads((workdir / "pt/trim/manifest.json").read_text())
    assert manifest["metrics"]["vocab_after"] < manifest["metrics"]["vocab_before"]
    assert {"torch", "transformers", "git"} <= manifest["versions"].keys()
    assert manifest["files"]["model/model.safetensors"] == sha256(workdir / "pt/trim/model/model.safetensors")
    report = json.loads((workdir / "pt/eval/report.json").read_text())
    assert set(report["models"]) == {"teacher", "trim"}
    assert report["datasets"] == {"bible-test": 3, "udhr": 2}
    model, tok = load_model_and_tokenizer(workdir / "pt/trim/model")
    assert model.config.vocab_size == len(tok) == manifest["metrics"]["vocab_after"]


def test_rerun_skips_and_force_redoes(tiny_world):
    config, workdir = tiny_world
    first = build.run_build(config, workdir, ["trim"])["trim"]
    again = build.run_build(config, workdir, ["trim"])["trim"]
    assert again["finished"] == first["finished"]  # skipped: the same manifest
    forced = build.run_build(config, workdir, ["trim"], force={"trim"})["trim"]
    assert forced["inputs_hash"] == first["inputs_hash"] and forced is not first
    assert (workdir / "pt/trim/manifest.json").is_file()


def test_changed_config_rebuilds(tiny_world):
    config, workdir = tiny_world
    first = build.run_build(config, workdir, ["trim"])["trim"]
    config.trim.top_n = 20
    second = build.run_build(config, workdir, ["trim"])["trim"]
    assert second["inputs_hash"] != first["inputs_hash"]
    assert second["metrics"]["vocab_after"] < first["metrics"]["vocab_after"]


def test_interrupted_stage_leaves_nothing_finished_and_rerun_completes(tiny_world, monkeypatch):
    config, workdir = tiny_world
    build.run_build(config, workdir, ["trim"])
    trim_module = build.stage_module("trim")
    real_run = trim_module.run

    def crash(b, out):
        real_run(b, out)
        raise KeyboardInterrupt  # after the model is written, before the manifest

    monkeypatch.setattr(trim_module, "run", crash)
    config.trim.top_n = 20
    with pytest.raises(KeyboardInterrupt):
        build.run_build(config, workdir, ["trim"])
    # the earlier finished build is intact; the half-done one (nothing in it to resume) is gone
    assert json.loads((workdir / "pt/trim/manifest.json").read_text())["inputs"]["trim"]["top_n"] == 40
    assert not (workdir / "pt/.trim.partial").exists()
    monkeypatch.setattr(trim_module, "run", real_run)
    done = build.run_build(config, workdir, ["trim"])["trim"]
    assert done["inputs"]["trim"]["top_n"] == 20 and not (workdir / "pt/.trim.partial").exists()


def test_cli_reports_bad_input_without_traceback(capsys):
    assert main(["build", "xx"]) == 2
    assert "unknown language code 'xx'" in capsys.readouterr().err
    assert main(["teacher", "info", "--teacher", "/no/such/dir"]) == 2
    assert "/no/such/dir" in capsys.readouterr().err


def test_summary_table_lists_each_built_language(tiny_world, tmp_path):
    from polyglot_kd.core.errors import PolyglotError
    from polyglot_kd.reports.summary import summary_table

    config, workdir = tiny_world
    with pytest.raises(PolyglotError, match="no evaluation reports"):
        summary_table(workdir)
    build.run_build(config, workdir, ["trim", "eval"])
    rows = summary_table(workdir).splitlines()
    assert len(rows) == 3 and rows[2].startswith("| pt | ")
