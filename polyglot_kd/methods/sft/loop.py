"""The one training loop every method and task kind shares.

AdamW with linear warm-up and decay, gradient clipping, optional gradient masks (LT-SFT's sparse
phase), English-dev evaluation a few times per epoch with the best state kept (checkpoint
selection), bf16 autocast on a GPU. Batches come from a callable so each epoch reshuffles.

Under `accelerate launch` (several processes) every process draws the same epoch of global batches
and takes its contiguous rows of each; DDP averages the gradients, each process's loss weighted by its
share of the batch's labelled positions (tokens for per-token labels, else rows), so the step is the
1-process step on the whole batch. The main process alone evaluates; its score is sent to the others,
so all keep the same best state.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from accelerate.utils import broadcast_object_list
from tqdm.auto import tqdm

from polyglot_kd.engine.sharding import Share, processes
from polyglot_kd.engine.trainer import cpu_has_bf16

log = logging.getLogger(__name__)


def device_for_training() -> torch.device:
    state = processes()
    if state.num_processes > 1:  # under `accelerate launch`: this process's device (its own GPU)
        return state.device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


_CPU_BF16 = False


def configure_precision(cpu_bf16: bool) -> bool:
    """Turn bf16 autocast on CPUs on or off (on only where the CPU has native bf16); returns the setting."""
    global _CPU_BF16
    _CPU_BF16 = bool(cpu_bf16) and cpu_has_bf16()
    return _CPU_BF16


def autocast(device: torch.device):
    """bf16 autocast on a GPU, and on a CPU with native bf16 when configured; float32 otherwise.
    Parameters and optimizer state stay float32 either way."""
    enabled = device.type == "cuda" or (device.type == "cpu" and _CPU_BF16)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


@dataclass
class Phase:
    """One run of the loop."""

    epochs: int
    learning_rate: float
    batches: Callable[[random.Random], list[dict]]
    """rng -> this epoch's batches (dicts of tensors the model takes, labels included)."""
    dev: Callable[[torch.nn.Module], float] | None = None
    """model -> primary metric on English dev; None: no selection, the last state is kept."""
    greater_is_better: bool = True
    evals_per_epoch: int = 1
    grad_masks: dict[torch.nn.Parameter, torch.Tensor] = field(default_factory=dict)
    """Gradients of these parameters are multiplied by their mask before every step."""
    head: frozenset[str] = frozenset()
    """Names of the head's parameters: they start from random and learn at `head_learning_rate`."""
    head_learning_rate: float | None = None
    warmup_share: float = 0.1
    seed: int = 0
    desc: str = "training"
    loss: Callable[[torch.nn.Module, dict], torch.Tensor] | None = None
    """(model, batch) -> training loss; None: the model's own loss on the batch's labels. Task
    distillation (`lt-sft-kd`) puts its loss against a task-tuned teacher here."""


def trainable(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def labelled_positions(batch: dict) -> int:
    """What the batch's loss is a mean over: the labelled tokens of per-token labels, else the rows."""
    labels = batch.get("labels")
    if labels is not None and labels.dim() == 2:
        return int((labels != -100).sum())
    return len(next(iter(batch.values())))


def process_rows(batch: dict, share: Share) -> tuple[dict, bool]:
    """This process's contiguous rows of a global batch, and whether it has none (fewer rows than
    processes, in an epoch's last batch): then it runs the first row with weight 0, because every
    process must take part in DDP's gradient average."""
    rows = share.uneven_rows(len(next(iter(batch.values()))))
    empty = rows.start == rows.stop
    return {k: v[:1] if empty else v[rows] for k, v in batch.items()}, empty


def _parallel(device: torch.device):
    """An Accelerator when this is one of several processes (`accelerate launch`), else None."""
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration

    if processes().num_processes == 1:
        return None
    return Accelerator(cpu=device.type == "cpu", dataloader_config=DataLoaderConfiguration(split_batches=True))


def run(model: torch.nn.Module, phase: Phase, device: torch.device) -> list[dict]:
    """Train `model` in place; returns the dev history [{step, epoch, score, loss}]. With a dev
    function the best-scoring state of the trainable parameters is restored at the end."""
    params = trainable(model)
    if not params:
        raise RuntimeError("nothing to train: every parameter is frozen")
    accelerator = _parallel(device)
    share = Share(accelerator)
    main = accelerator is None or accelerator.is_main_process
    rng = random.Random(phase.seed)
    torch.manual_seed(phase.seed)
    first = phase.batches(rng)
    total = len(first) * phase.epochs
    head_lr = phase.head_learning_rate or phase.learning_rate
    groups = [{"params": [p for n, p in params.items() if n not in phase.head], "lr": phase.learning_rate},
              {"params": [p for n, p in params.items() if n in phase.head], "lr": head_lr}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=0.0)
    warmup = max(1, int(total * phase.warmup_share))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    eval_every = max(1, len(first) // max(1, phase.evals_per_epoch))
    history, best, best_state, step, losses = [], None, None, 0, []
    model.to(device).train()
    forward = model if accelerator is None else accelerator.prepare_model(model)  # DDP averages the gradients
    bar = tqdm(total=total, desc=phase.desc, unit="step", leave=False, disable=not main)
    started = time.time()
    for epoch in range(phase.epochs):
        batches = first if epoch == 0 else phase.batches(rng)
        for i, batch in enumerate(batches):
            batch = {k: v.to(device) for k, v in batch.items()}
            if share.parallel:
                batch, empty = process_rows(batch, share)
            with autocast(device):
                loss = phase.loss(forward, batch) if phase.loss is not None else forward(**batch).loss
            if share.parallel:
                loss = share.by_count(loss, 0 if empty else labelled_positions(batch))
            loss.backward()
            for p, mask in phase.grad_masks.items():
                if p.grad is not None:
                    p.grad.mul_(mask)
            torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(share.mean({"loss": float(loss.detach())})["loss"])
            step += 1
            bar.update()
            last_of_epoch = i == len(batches) - 1
            if phase.dev is not None and ((i + 1) % eval_every == 0 and len(batches) - (i + 1) >= eval_every // 2
                                          or last_of_epoch):
                model.eval()
                score = phase.dev(model) if main else None
                model.train()
                if share.parallel:
                    score = broadcast_object_list([score])[0]
                mean_loss = sum(losses) / len(losses)
                losses = []
                history.append({"step": step, "epoch": epoch + (i + 1) / len(batches), "dev": score, "loss": mean_loss})
                if main:
                    log.info("%s step %d: loss %.4f, dev %.4f", phase.desc, step, mean_loss, score)
                if best is None or (score > best if phase.greater_is_better else score < best):
                    best = score
                    best_state = {n: p.detach().clone() for n, p in params.items()}
    bar.close()
    if best_state is not None:
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(best_state[n])
    model.eval()
    if accelerator is not None:
        accelerator.free_memory()  # drops the DDP wrapper (and its gradient hooks) before another run
    if main:
        log.info("%s: %d steps in %.0f s%s", phase.desc, step, time.time() - started,
                 f", best dev {best:.4f}" if best is not None else "")
    return history
