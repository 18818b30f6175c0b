"""A kill at any moment of a checkpoint save leaves a run that resumes to the uninterrupted state."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from polyglot_kd.engine.trainer import CHECKPOINTS, STATE_FILE, Trainer, TrainSettings


def _trainer(out, steps=8, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def loss_fn(b):
        x = torch.randn(16, 4, generator=torch.Generator().manual_seed(b))
        return ((model(x) - x.sum(1, keepdim=True)) ** 2).mean(), {}

    settings = TrainSettings(steps=steps, lr=0.05, warmup_steps=2, checkpoint_every=3, log_every=1)
    return model, Trainer(out, model, loss_fn, settings, config_hash="cfg")


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs, no handler sees it."""


@pytest.mark.parametrize("moment", ["inside save_state", "before the rename", "while pruning"])
def test_a_kill_during_a_checkpoint_save_resumes_to_the_uninterrupted_state(tmp_path, monkeypatch, moment):
    reference, trainer = _trainer(tmp_path / "a")
    trainer.train()

    _, killed = _trainer(tmp_path / "b")
    real_save, real_rename, real_rmtree = killed.accelerator.save_state, type(tmp_path).rename, shutil.rmtree

    def save_state(path):
        real_save(path)
        if moment == "inside save_state" and killed.step == 6:
            (tmp_path / "b" / CHECKPOINTS / "step-0000006.partial" / "model.safetensors").write_bytes(b"half")
            raise Killed

    def rename(self, target):
        if moment == "before the rename" and self.name == "step-0000006.partial":
            raise Killed
        return real_rename(self, target)

    def rmtree(path, *args, **kwargs):
        if moment == "while pruning" and str(path).endswith("step-0000003.old") and Path(path).exists():
            doomed = tmp_path / "b" / CHECKPOINTS / "step-0000003.old"
            next(f for f in doomed.iterdir() if f.name != STATE_FILE).unlink()
            raise Killed  # half deleted: the state file is still there
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(killed.accelerator, "save_state", save_state)
    monkeypatch.setattr(type(tmp_path), "rename", rename)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    with pytest.raises(Killed):
        killed.train()
    monkeypatch.undo()

    leftovers = sorted(p.name for p in (tmp_path / "b" / CHECKPOINTS).iterdir())
    assert any(n.endswith((".partial", ".old")) for n in leftovers), leftovers
    model, resumed = _trainer(tmp_path / "b", seed=99)
    # a save killed before its state file is dropped; one killed after it (only the rename missing) is kept
    expected = {"inside save_state": "step-0000003", "before the rename": "step-0000006", "while pruning": "step-0000008"}
    assert resumed.latest_checkpoint().name == expected[moment]
    left = sorted(p.name for p in (tmp_path / "b" / CHECKPOINTS).iterdir())
    assert not any(n.endswith((".partial", ".old")) for n in left) and all((tmp_path / "b" / CHECKPOINTS / n / STATE_FILE).is_file() for n in left)
    resumed.train()
    for a, b in zip(reference.parameters(), model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
