"""The distillation objective on 2 CPU processes (`accelerate launch`): each process encodes its half
of every batch, and the DDP-averaged gradients and the reported losses equal 1 process's on the
whole batch (pooled, hidden, attention and the contrastive loss with the whole batch's negatives)."""

from __future__ import annotations

import pytest
import torch

from polyglot_kd.engine.trainer import make_accelerator
from tests.distributed import launch
from tests.distributed_child import OBJECTIVE_BATCH, objective_gradients
from tests.tiny import save_tiny_model

# float32 sums over half batches, then gloo's average: within a thousandth of each gradient tensor's largest
# entry, or a millionth of the largest entry of any (tensors whose gradient is nearly zero, e.g. the queries)
RELATIVE, OVERALL = 1e-3, 1e-6


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("objective")
    torch.manual_seed(0)
    teacher = save_tiny_model(root / "teacher")
    launch("objective", str(teacher), str(root / "two"))
    two = [torch.load(root / "two" / f"objective-{rank}.pt") for rank in (0, 1)]
    return objective_gradients(teacher, make_accelerator()), two


@pytest.mark.distributed
def test_each_process_encodes_its_half_of_each_batch(runs):
    one, two = runs
    half = OBJECTIVE_BATCH // 2
    for rank, run in enumerate(two):
        for b, (side, texts, translations) in enumerate(one["batches"]):
            mine = [texts[rank * half:(rank + 1) * half], translations[rank * half:(rank + 1) * half]]
            assert all(t in run["texts"] for t in mine[: 2 if side == "target" else 1])  # translations: target side only
        assert all(len(texts) == half for texts in run["texts"])


@pytest.mark.distributed
def test_averaged_gradients_and_losses_equal_one_process(runs):
    one, two = runs
    for b in (0, 1):
        assert set(one[b]["parts"]) == set(two[0][b]["parts"]) >= {"loss", "pooled", "hidden", "attention"}
        for name, value in one[b]["parts"].items():
            assert two[0][b]["parts"][name] == pytest.approx(value, rel=1e-5, abs=1e-9)
        assert two[0][b]["local"] != two[1][b]["local"]  # each process's own share differs from the whole
        largest = max(float(g.abs().max()) for g in one[b]["grads"].values())
        for name, grad in one[b]["grads"].items():
            error = float((two[0][b]["grads"][name] - grad).abs().max())
            assert error <= RELATIVE * float(grad.abs().max()) + OVERALL * largest, name
            assert torch.equal(two[0][b]["grads"][name], two[1][b]["grads"][name])  # DDP: one gradient for all
    assert "contrastive" in one[0]["parts"]
