"""Builds that survive concurrent runs, kills, corrupt files and hostile language codes."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re

import pytest
from safetensors.torch import load_file, save_file

from polyglot_kd.config import load_language
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.weights import check_weights
from polyglot_kd.engine.trainer import Trainer
from polyglot_kd.pipeline import build
from polyglot_kd.pipeline.lock import LOCK_FILE, BuildLocked, build_lock


def test_a_second_build_of_the_language_is_refused_naming_the_first(tiny_world):
    config, workdir = tiny_world
    root = workdir / config.code
    with build_lock(root):
        with pytest.raises(BuildLocked, match=rf"another build of pt is running .*pid {os.getpid()} on "):
            build.run_build(config, workdir, ["trim"])
    assert not (root / "trim").exists()
    build.run_build(config, workdir, ["trim"])  # free again once the first is done
    assert (root / "trim/manifest.json").is_file()


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_warning(tiny_world, caplog):
    config, workdir = tiny_world
    root = workdir / config.code
    root.mkdir(parents=True)
    (root / LOCK_FILE).write_text(json.dumps({"pid": 2 ** 22 + 12345, "host": os.uname().nodename, "started": "then"}))
    with caplog.at_level(logging.WARNING):
        build.run_build(config, workdir, ["trim"])
    assert "no longer running" in caplog.text and "then" in caplog.text


def test_the_os_lock_is_what_counts_not_the_file(tmp_path):
    fd = os.open(tmp_path / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(BuildLocked, match="holder unknown"):
            with build_lock(tmp_path):
                pass
    finally:
        os.close(fd)
    with build_lock(tmp_path):  # released with its descriptor, as on a kill
        pass


@pytest.mark.parametrize("code", ["../evil", "..", "pt/../../x", "/tmp/x", "PT", "p", "pt-"])
def test_language_codes_that_are_not_codes_are_refused(code):
    with pytest.raises(PolyglotError, match="does not look like a language code"):
        load_language(code)


def test_no_build_folder_leaves_the_work_directory(tmp_path):
    for code in ("..", "../evil", "a/b", "."):
        with pytest.raises(PolyglotError):
            build.language_root(tmp_path, code)
    assert build.language_root(tmp_path, "pt-BR") == tmp_path / "pt-BR"


def test_a_failed_stage_leaves_no_partial_and_a_failed_first_build_no_folder(tiny_world, monkeypatch):
    config, workdir = tiny_world
    trim = build.stage_module("trim")

    def broken(b, out):
        (out / "half.bin").write_bytes(b"x")
        raise PolyglotError("boom")

    monkeypatch.setattr(trim, "run", broken)
    with pytest.raises(PolyglotError, match="boom"):
        build.run_build(config, workdir, ["trim"])
    assert not (workdir / config.code).exists()


def test_weights_with_nan_are_refused_before_the_manifest(tiny_world, monkeypatch):
    config, workdir = tiny_world
    trim = build.stage_module("trim")
    real_run = trim.run

    def poisoned(b, out):
        metrics = real_run(b, out)
        path = out / build.MODEL_DIR / "model.safetensors"
        tensors = load_file(path)
        name = next(n for n in tensors if n.endswith("word_embeddings.weight"))
        tensors[name][0, :3] = float("nan")
        save_file(tensors, path)
        return metrics

    monkeypatch.setattr(trim, "run", poisoned)
    with pytest.raises(PolyglotError, match=r"word_embeddings.weight' holds 3 NaN/inf"):
        build.run_build(config, workdir, ["trim"])
    assert not (workdir / "pt/trim").exists() and not (workdir / "pt/.trim.partial").exists()


def test_truncated_and_misshapen_weights_are_named(tiny_world, tmp_path):
    config, workdir = tiny_world
    build.run_build(config, workdir, ["trim"])
    model = workdir / "pt/trim/model"
    check_weights(model)
    cfg = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(cfg | {"vocab_size": cfg["vocab_size"] + 1}))
    with pytest.raises(PolyglotError, match="config.json says vocab_size"):
        check_weights(model)
    (model / "config.json").write_text(json.dumps(cfg))
    data = (model / "model.safetensors").read_bytes()
    (model / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(PolyglotError, match="truncated or corrupt"):
        check_weights(model)


def test_an_interrupted_forced_distill_resumes_with_or_without_force(tiny_world, monkeypatch):
    config, workdir = tiny_world
    build.run_build(config, workdir, ["trim", "distill"])
    real_step = Trainer._one_step
    calls = {"n": 0}

    def interrupt_once(self):
        calls["n"] += 1
        if self.step == 2 and calls["n"] < 10:
            calls["n"] = 10
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(Trainer, "_one_step", interrupt_once)
    with pytest.raises(KeyboardInterrupt):
        build.run_build(config, workdir, ["distill"], force={"distill"})
    partial = workdir / "pt/.distill.partial"
    assert (partial / build.PARTIAL_FORCED).is_file()
    resumed = build.run_build(config, workdir, ["distill"])["distill"]  # not "already built": it resumes
    assert resumed["metrics"]["training"]["steps"] == config.distill.steps
    assert not partial.exists()
    first_steps = [json.loads(line)["step"] for line in (workdir / "pt/distill/metrics.jsonl").read_text().splitlines()]
    assert first_steps and max(first_steps) == config.distill.steps
    check_weights(workdir / "pt/distill/model")


def test_loading_refuses_non_finite_weights_naming_the_tensor(tmp_path):
    from polyglot_kd.core.loading import load_encoder
    from tests.tiny import save_tiny_model

    folder = save_tiny_model(tmp_path / "m")
    tensors = load_file(folder / "model.safetensors")
    name = sorted(n for n in tensors if n.endswith("attention.self.query.weight"))[0]
    tensors[name][0, 0] = float("inf")
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(PolyglotError, match=rf"1 NaN/inf values in {name}"):
        load_encoder(folder)


def test_push_without_a_token_says_so_before_any_work(tiny_build, monkeypatch, capsys):
    from polyglot_kd.cli import main

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tiny_build.parent / "hf-home"))  # no saved login either
    assert main(["release", "pt", "--workdir", str(tiny_build), "--push", "me/model"]) == 2
    err = capsys.readouterr().err
    assert "--push needs a Hugging Face token" in err and "Traceback" not in err
    assert not (tiny_build / "pt" / "release").exists()


def test_unknown_stage_gets_a_did_you_mean(capsys):
    from polyglot_kd.cli import main

    with pytest.raises(SystemExit):
        main(["build", "pt", "--stages", "trim,distil"])
    assert "did you mean 'distill'" in capsys.readouterr().err


def test_os_errors_are_one_line_without_traceback(tmp_path, capsys, monkeypatch):
    from polyglot_kd import cli

    def disk_full(code, overrides=None):
        raise OSError(28, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(cli, "load_language", disk_full)
    assert cli.main(["languages"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and str(tmp_path / "x") in err and "Traceback" not in err


def test_a_failed_release_of_an_unbuilt_language_leaves_no_folder(tmp_path, capsys):
    from polyglot_kd.cli import main

    assert main(["release", "pt", "--workdir", str(tmp_path / "builds")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "builds" / "pt").exists()


def test_a_stage_rebuilt_into_the_same_files_keeps_its_evaluation(tiny_world):
    import shutil

    config, workdir = tiny_world
    build.run_build(config, workdir, ["trim", "eval"])
    evaluated = build.Build(config, workdir / "pt").manifest("eval")["finished"]
    shutil.rmtree(workdir / "pt/trim")  # lost, then rebuilt from the same inputs into the same files
    again = build.run_build(config, workdir, ["trim", "eval", "release"])
    assert again["eval"]["finished"] == evaluated  # still valid: not redone
    assert again["release"]["metrics"]["model"] == "trim"


def test_a_refused_build_never_removes_the_running_builds_folder(tiny_world):
    config, workdir = tiny_world
    root = workdir / config.code  # does not exist yet: both builds would call it fresh
    with build_lock(root):
        with pytest.raises(BuildLocked):
            build.run_build(config, workdir, ["trim"])
        assert (root / LOCK_FILE).is_file()


def test_a_kill_mid_swap_of_an_upstream_stage_does_not_hide_it(tiny_world):
    config, workdir = tiny_world
    build.run_build(config, workdir, ["trim"])
    root = workdir / config.code
    (root / "trim").rename(root / ".trim.old")  # the first rename of a swap happened, the second not
    build.run_build(config, workdir, ["eval"])  # trim is not among the stages run
    assert (root / "trim/manifest.json").is_file() and not (root / ".trim.old").exists()
    assert json.loads((root / "eval/report.json").read_text())["models"].keys() >= {"trim"}


def test_force_redoes_a_stage_killed_between_its_manifest_and_its_rename(tiny_world):
    config, workdir = tiny_world
    first = build.run_build(config, workdir, ["trim"])["trim"]
    root = workdir / config.code
    (root / "trim").rename(root / ".trim.partial")  # as if the rename had not happened
    forced = build.run_build(config, workdir, ["trim"], force={"trim"})["trim"]
    assert forced["finished"] >= first["finished"] and forced is not first
    assert not (root / ".trim.partial").exists()


@pytest.mark.parametrize("distill,message", [
    ({"hidden_size": 18}, "distill.hidden_size: 18 must be a multiple of the teacher's 4 attention heads and at most its width 32"),
    ({"hidden_size": 64}, "at most its width 32"),
    ({"student_layers": 5}, "distill: a student of 5 layers cannot be cut from a teacher of 2: expected 1..2"),
    ({"layer_selection": "list", "layers": [0, 3]}, "distill: student layer list [0, 3] must name teacher layers 0..1; bad: [3]"),
    ({"embedding_rank": 40}, "distill.embedding_rank: embedding rank 40 is above the student's width 32; expected 1..32"),
    ({"hidden_size": 16, "embedding_rank": 20}, "embedding rank 20 is above the student's width 16"),
    ({"ffn_size": 100}, "distill.ffn_size: 100 is above the teacher's inner size 64; expected 1..64 (0 keeps it)"),
])
def test_a_student_the_teacher_cannot_be_cut_into_is_named_before_any_work(tiny_world, distill, message):
    import dataclasses

    from polyglot_kd.core.errors import ConfigError

    config, workdir = tiny_world
    config = dataclasses.replace(config, distill=dataclasses.replace(config.distill, **distill))
    with pytest.raises(ConfigError, match=re.escape(message)):
        build.run_build(config, workdir, ["trim", "distill"])
    assert not (workdir / "pt").exists()
