"""`polyglot-kd distill` under `accelerate launch` on 2 CPU processes, on a tiny teacher: the student
and the dev curve equal a 1-process run's, the build folder is written once; and the refusals."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from polyglot_kd.config import load_language
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.pipeline import build
from tests.conftest import patch_tiny_corpora
from tests.distributed import launch
from tests.tiny import save_tiny_model

TOLERANCE = 1e-6  # float32 sums in another order (half batches padded to their own longest), 4 AdamW steps
DISTILL = ('[distill]\nstudent_layers = 1\nsteps = 4\nbatch_size = 2\nwarmup_steps = 1\ncheckpoint_every = 2\n'
           'eval_every = 2\neval_items = 3\ncontrastive_weight = 0.5\nhidden_size = 16\ncpu_bf16 = false\n')
# all four losses (pooled, hidden, attention, contrastive) on a narrower student; float32 on a CPU with bf16 too


@pytest.fixture
def trimmed(tmp_path, monkeypatch):
    """A languages folder whose pt distils all four losses from a tiny teacher, trimmed in one process."""
    torch.manual_seed(0)
    teacher = save_tiny_model(tmp_path / "teacher")
    langs = tmp_path / "languages"
    langs.mkdir()
    (langs / "pt.toml").write_text(f'name = "Portuguese"\nteacher = "{teacher}"\n[corpus]\nbible = "a"\n'
                                   f'udhr = "por_BR"\n[trim]\ntop_n = 40\n{DISTILL}')
    monkeypatch.setenv("POLYGLOT_KD_LANGUAGES", str(langs))
    patch_tiny_corpora(monkeypatch, tmp_path / "cache")
    build.run_build(load_language("pt"), tmp_path / "one", ["trim"])
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    return tmp_path


def _eval_rows(stage_dir):
    rows = [json.loads(line) for line in (stage_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["eval/dev_retrieval"], r["loss"]) for r in rows if "eval/dev_retrieval" in r]


@pytest.mark.distributed
def test_distill_on_two_processes_equals_one(trimmed):
    one = build.run_build(load_language("pt"), trimmed / "one", ["distill"])["distill"]
    env = {"POLYGLOT_KD_LANGUAGES": str(trimmed / "languages"), "POLYGLOT_KD_CACHE": str(trimmed / "cache")}
    launch("cli", "distill", "pt", "--workdir", str(trimmed / "two"), **env)

    a, b = trimmed / "one" / "pt" / "distill", trimmed / "two" / "pt" / "distill"
    two = json.loads((b / "manifest.json").read_text())
    assert two["metrics"]["training"]["steps"] == one["metrics"]["training"]["steps"] == 4
    wa, wb = (load_file(str(d / "model" / "model.safetensors")) for d in (a, b))
    assert wa.keys() == wb.keys()
    assert max(float((wa[k] - wb[k]).abs().max()) for k in wa) < TOLERANCE
    # the dev curve (main process only) and the logged losses (averaged over the processes) are the same
    curve_a, curve_b = _eval_rows(a), _eval_rows(b)
    assert [r[0] for r in curve_b] == [2, 4] and len(curve_a) == len(curve_b)
    for (_, ra, la), (_, rb, lb) in zip(curve_a, curve_b):
        assert ra == pytest.approx(rb, abs=1e-6) and la == pytest.approx(lb, rel=1e-4)
    assert not (b / "checkpoints").exists() and not (trimmed / "two" / "pt" / ".distill.partial").exists()
    assert two["files"].keys() == one["files"].keys()


def test_stages_that_run_on_one_process_are_refused_under_several(trimmed, monkeypatch):
    from polyglot_kd.engine import sharding

    class TwoProcesses:
        num_processes, is_main_process = 2, True

    monkeypatch.setattr(sharding, "processes", lambda: TwoProcesses())
    monkeypatch.setattr("polyglot_kd.pipeline.stages.distill.processes", lambda: TwoProcesses())
    with pytest.raises(PolyglotError, match=r"stage\(s\) trim, eval run on one process.*--stages trim,eval"):
        build.run_build(load_language("pt"), trimmed / "one", ["trim", "distill", "eval"])
    config = load_language("pt", {"distill": {"batch_size": 3}})
    with pytest.raises(PolyglotError, match="a global batch \\(distill.batch_size\\) of 3 does not divide among 2"):
        build.run_build(config, trimmed / "one", ["distill"])


def test_the_task_suite_is_refused_under_several_processes(monkeypatch):
    from polyglot_kd import cli

    class TwoProcesses:
        num_processes, is_main_process = 2, True

    monkeypatch.setattr("polyglot_kd.engine.sharding.processes", lambda: TwoProcesses())
    with pytest.raises(PolyglotError, match="eval runs on one process, and this is one of 2"):
        cli.cmd_eval(cli.build_parser().parse_args(["eval", "pt", "--tasks", "retrieval"]))
