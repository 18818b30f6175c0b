"""The training engine on 2 CPU processes (`accelerate launch`, gloo) against 1 process on the same
global batch: equal parameters, half of each batch per process, a resumed run equal to an
uninterrupted one, one checkpoint folder per saved step; and the refusals of bad input."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.engine.sharding import Share, too_many_processes
from polyglot_kd.engine.trainer import CHECKPOINTS, METRICS_FILE, STATE_FILE
from tests.distributed import launch
from tests.distributed_child import GLOBAL_BATCH, SIGNAL_AT, STEPS, toy_model, toy_trainer

TOLERANCE = 1e-6  # gloo's average of two half-batch gradients against one full-batch gradient, after 8 AdamW steps


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("engine-2")
    launch("engine", str(out))
    return out


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    model, trainer = toy_trainer(tmp_path_factory.mktemp("engine-1") / "run")
    trainer.train()
    return model


def _largest_difference(model: torch.nn.Module, saved) -> float:
    other = torch.load(saved)
    return max(float((p - other[name]).abs().max()) for name, p in model.state_dict().items())


@pytest.mark.distributed
def test_two_processes_reach_the_one_process_parameters(two_processes, one_process):
    assert json.loads((two_processes / "info.json").read_text())["num_processes"] == 2
    assert _largest_difference(one_process, two_processes / "full.pt") < TOLERANCE
    untrained = torch.nn.utils.parameters_to_vector(toy_model(0).parameters())
    assert (torch.nn.utils.parameters_to_vector(one_process.parameters()) - untrained).abs().max() > 1e-2  # it trained


@pytest.mark.distributed
def test_each_process_took_its_half_of_every_batch(two_processes):
    seen = {rank: [json.loads(line) for line in (two_processes / f"rows-{rank}.jsonl").read_text().splitlines()]
            for rank in (0, 1)}
    half = GLOBAL_BATCH // 2
    for rank, records in seen.items():
        assert [r["batch"] for r in records] == list(range(STEPS))
        assert all(r["rows"] == list(range(rank * half, (rank + 1) * half)) for r in records)


@pytest.mark.distributed
def test_an_interrupted_two_process_run_resumes_to_the_uninterrupted_state(two_processes, one_process):
    info = json.loads((two_processes / "info.json").read_text())
    assert info["stopped_at"] == SIGNAL_AT + 1  # one process was signalled mid-step: both stopped after it
    state = json.loads((two_processes / "cut" / CHECKPOINTS / "step-0000005" / STATE_FILE).read_text())
    assert state["num_processes"] == 2
    assert _largest_difference(one_process, two_processes / "resumed.pt") < TOLERANCE


@pytest.mark.distributed
def test_one_checkpoint_folder_per_saved_step_and_one_log(two_processes):
    full = sorted(p.name for p in (two_processes / "full" / CHECKPOINTS).iterdir())
    assert full == ["step-0000003", "step-0000006", "step-0000008"]  # every 3 steps and the last (keep 10)
    cut = sorted(p.name for p in (two_processes / "cut" / CHECKPOINTS).iterdir())
    assert cut == ["step-0000003", "step-0000005", "step-0000006", "step-0000008"]  # + the interruption's
    for name in full:
        folder = two_processes / "full" / CHECKPOINTS / name
        assert {"random_states_0.pkl", "random_states_1.pkl", STATE_FILE} <= {p.name for p in folder.iterdir()}
    rows = [json.loads(line) for line in (two_processes / "full" / METRICS_FILE).read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))  # written by the main process alone


@pytest.mark.distributed
def test_a_checkpoint_of_two_processes_is_refused_on_one(two_processes, tmp_path):
    import shutil

    shutil.copytree(two_processes / "cut", tmp_path / "cut")
    _, trainer = toy_trainer(tmp_path / "cut")
    with pytest.raises(PolyglotError, match=r"written by 2 processes, and this run has 1: resume with `--num_processes 2`"):
        trainer.train()


def _share(index: int, count: int) -> Share:
    return Share(SimpleNamespace(process_index=index, num_processes=count))


def test_batches_that_do_not_share_evenly_are_refused_with_both_sizes():
    assert _share(1, 2).rows(16) == slice(8, 16) and Share().rows(5) == slice(0, 5)
    with pytest.raises(PolyglotError, match="a global batch of 15 does not divide among 2 processes"):
        _share(0, 2).rows(15)
    with pytest.raises(PolyglotError, match="4 processes for a global batch of 3"):
        _share(0, 4).rows(3)
    assert too_many_processes(2, 16) is None


def test_uneven_rows_cover_the_batch_once_in_order():
    for size in (0, 1, 5, 8):
        slices = [_share(r, 3).uneven_rows(size) for r in range(3)]
        assert [i for s in slices for i in range(size)[s]] == list(range(size))
        assert max(s.stop - s.start for s in slices) - min(s.stop - s.start for s in slices) <= 1
