"""The training engine: resume equals uninterrupted training, guarded resumes, divergence, curves."""

from __future__ import annotations

import json

import pytest
import torch

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.engine.trainer import CHECKPOINTS, CURVE_FILE, METRICS_FILE, Trainer, TrainSettings


def _setup(out, steps, seed=0, lr=0.05, poison_at=None, interrupt_at=None):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    w = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])

    def loss_fn(b):
        if interrupt_at is not None and b == interrupt_at:
            raise KeyboardInterrupt
        g = torch.Generator().manual_seed(b)  # batches are a pure function of the batch index
        x = torch.randn(16, 4, generator=g)
        loss = ((model(x) - x @ w) ** 2).mean()
        if poison_at is not None and b >= poison_at:
            loss = loss * float("nan")
        return loss, {"mse": loss.item()}

    settings = TrainSettings(steps=steps, lr=lr, warmup_steps=2, checkpoint_every=3, log_every=1)
    return model, Trainer(out, model, loss_fn, settings, config_hash="cfg-a")


def test_resumed_training_reaches_the_uninterrupted_state(tmp_path):
    model_a, trainer_a = _setup(tmp_path / "a", steps=8)
    trainer_a.train()

    _, interrupted = _setup(tmp_path / "b", steps=8, interrupt_at=5)
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    assert interrupted.latest_checkpoint().name == "step-0000005"  # saved on interruption

    model_b, resumed = _setup(tmp_path / "b", steps=8, seed=123)  # different init: must be overwritten
    resumed.train()
    for a, b in zip(model_a.parameters(), model_b.parameters()):
        assert torch.allclose(a, b, atol=1e-7)
    rows = [json.loads(l) for l in (tmp_path / "a" / METRICS_FILE).read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9)) and rows[-1]["mse"] < rows[0]["mse"]
    assert (tmp_path / "a" / CURVE_FILE).stat().st_size > 1000


def test_checkpoint_of_another_config_is_refused(tmp_path):
    _, trainer = _setup(tmp_path, steps=3)
    trainer.train()
    _, other = _setup(tmp_path, steps=6)
    other.config_hash = "cfg-b"
    with pytest.raises(PolyglotError, match="different configuration"):
        other.train()


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    _, trainer = _setup(tmp_path, steps=10, poison_at=4)
    with pytest.raises(PolyglotError, match=r"diverged: loss is nan at step 4.*step-0000003"):
        trainer.train()
    assert [p.name for p in (tmp_path / CHECKPOINTS).iterdir()] == ["step-0000003"]


@pytest.mark.parametrize("cpu_bf16", [False, True])
def test_cpu_bf16_autocasts_the_loss_and_keeps_float32_weights(tmp_path, monkeypatch, cpu_bf16):
    monkeypatch.setattr("polyglot_kd.engine.trainer.cpu_has_bf16", lambda: True)
    model = torch.nn.Linear(4, 1)
    seen = []

    def loss_fn(b):
        out = model(torch.randn(8, 4))
        seen.append(out.dtype)
        return out.float().pow(2).mean(), {}

    settings = TrainSettings(steps=2, warmup_steps=1, checkpoint_every=10, cpu_bf16=cpu_bf16)
    Trainer(tmp_path, model, loss_fn, settings, config_hash="c").train()
    assert seen == [torch.bfloat16 if cpu_bf16 else torch.float32] * 2
    assert model.weight.dtype == torch.float32
