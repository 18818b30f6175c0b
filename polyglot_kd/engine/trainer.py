"""The training engine shared by distillation and stacking, on `accelerate`.

One code path for CPU, one GPU, many GPUs and many nodes (launch with `accelerate launch`); bf16
autocast on GPU; gradient accumulation. Checkpoints every N steps and on interruption (Ctrl-C,
SIGTERM), resume from the last one, a progress bar with the losses, `metrics.jsonl`, and a loss-curve
plot. Batches are a pure function of the step number, so a resumed run sees exactly the batches an
uninterrupted run would have seen. A NaN/inf loss stops training with the last good checkpoint kept.

Under N processes (docs/distributed.md) the loss function takes its process's share of each step's
global batch (`polyglot_kd.engine.sharding`), DDP averages the gradients, and the processes agree on
when to stop (a signal to any of them, the time budget); the main process alone evaluates, logs, plots,
and writes, renames and prunes checkpoint folders, between barriers.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, set_seed
from tqdm.auto import tqdm

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.engine.sharding import Share

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
METRICS_FILE = "metrics.jsonl"
CURVE_FILE = "loss_curve.png"
CHECKPOINT_NAME = re.compile(r"step-\d{7}")


@dataclass
class TrainSettings:
    steps: int
    lr: float = 1e-4
    warmup_steps: int = 50
    weight_decay: float = 0.01
    grad_accum: int = 1
    max_grad_norm: float = 1.0
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    eval_every: int = 0
    log_every: int = 10
    seed: int = 0
    time_budget_s: float | None = None
    cpu_bf16: bool = False
    """bf16 autocast on a CPU with native bf16 (a GPU gets bf16 from the accelerator). Not accelerate's
    mixed_precision: that is fixed once per process, and tests and builds make several trainers."""
    schedule: str = "linear"
    """'linear': warm-up, then linear decay to 0 at `steps`. 'budget': warm-up times a linear decay
    from the start to `min_lr_ratio`, by whichever is nearer, the step limit or the time budget (a
    time-capped run still ends on a small learning rate)."""
    min_lr_ratio: float = 0.0
    budget_excludes_eval: bool = False
    """Count only training steps against the time budget (evaluation is observation, not training);
    the training seconds carry over a resume."""


LossFn = Callable[[int], tuple[torch.Tensor, dict[str, float]]]
"""batch index -> (loss, reported parts). Under N processes: this process's share, such that the mean
over the processes is the whole global batch's loss (see `polyglot_kd.engine.sharding`)."""


class Trainer:
    """Optimises `module`'s parameters on `loss_fn(batch_index)`; `config_hash` guards resumes."""

    def __init__(self, out_dir: Path, module: torch.nn.Module, loss_fn: LossFn, settings: TrainSettings,
                 config_hash: str, evaluate: Callable[[], dict[str, float]] | None = None,
                 accelerator: Accelerator | None = None, groups: list[dict] | None = None):
        """`groups`: optimizer parameter groups (e.g. their own learning rates); default every
        trainable parameter of `module` at `settings.lr`."""
        self.out = Path(out_dir)
        self.settings = settings
        self.config_hash = config_hash
        self.loss_fn = loss_fn
        self.evaluate = evaluate
        self.accelerator = accelerator or make_accelerator(settings.grad_accum)
        if self.accelerator.num_processes > 1 and not self.accelerator.split_batches:
            raise PolyglotError("several processes share each step's global batch: make the Accelerator with "
                                "polyglot_kd.engine.trainer.make_accelerator (split_batches), or the learning-rate "
                                "schedule would advance once per process")
        self.share = Share(self.accelerator)
        self.cpu_bf16 = settings.cpu_bf16 and self.accelerator.device.type == "cpu" and cpu_has_bf16()
        params = groups or [p for p in module.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
        self.step = 0
        self.train_seconds = 0.0
        """Seconds spent in training steps (evaluation and checkpoints excluded), over resumes."""
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self._lr_factor)
        self.module, self.optimizer, self.scheduler = self.accelerator.prepare(module, optimizer, scheduler)

    def _lr_factor(self, step: int) -> float:
        s = self.settings
        if s.schedule == "budget":
            progress = step / s.steps
            if s.time_budget_s:
                progress = max(progress, self.train_seconds / s.time_budget_s)
            return min(1.0, (step + 1) / max(s.warmup_steps, 1)) * max(s.min_lr_ratio, 1.0 - (1.0 - s.min_lr_ratio) * progress)
        if step < s.warmup_steps:
            return (step + 1) / s.warmup_steps
        return max(0.0, (s.steps - step) / max(1, s.steps - s.warmup_steps))  # linear decay

    # ---------------------------------------------------------------- checkpoints

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint. Folders a kill left behind mid-save (`.partial`) or
        mid-prune (`.old`) are removed (by the main process): only a renamed-into-place folder with its
        state file counts."""
        folder = self.out / CHECKPOINTS
        if self.accelerator.is_main_process:
            self._tidy_checkpoints(folder)
        if self.share.parallel:
            self.accelerator.wait_for_everyone()
        found = sorted((p for p in folder.glob("step-*") if CHECKPOINT_NAME.fullmatch(p.name)),
                       key=lambda p: int(p.name.split("-")[1]))
        return next((p for p in reversed(found) if (p / STATE_FILE).is_file()), None)

    @staticmethod
    def _tidy_checkpoints(folder: Path) -> None:
        for partial in folder.glob("step-*.partial"):  # complete (its state file is written last), not renamed
            final = partial.with_name(partial.name.removesuffix(".partial"))
            if (partial / STATE_FILE).is_file() and not final.exists():
                partial.rename(final)
        for leftover in [*folder.glob("step-*.partial"), *folder.glob("step-*.old")]:
            shutil.rmtree(leftover, ignore_errors=True)

    def save_checkpoint(self) -> Path:
        """Every process saves its part (accelerate: the weights and optimizer from the main process,
        each process its random states); the main process alone then writes the state file, renames
        the folder into place and prunes, between barriers."""
        path = self.out / CHECKPOINTS / f"step-{self.step:07d}"
        partial = path.with_name(path.name + ".partial")
        main, parallel = self.accelerator.is_main_process, self.share.parallel
        if main:
            shutil.rmtree(partial, ignore_errors=True)
        if parallel:
            self.accelerator.wait_for_everyone()
        self.accelerator.save_state(str(partial))
        if parallel:
            self.accelerator.wait_for_everyone()
        if main:
            state = {"step": self.step, "config_hash": self.config_hash, "settings": asdict(self.settings),
                     "train_seconds": self.train_seconds}
            if parallel:  # a 1-process state file stays as it was
                state["num_processes"] = self.share.count
            (partial / STATE_FILE).write_text(json.dumps(state, indent=2))
            _remove(path)
            partial.rename(path)
            for old in sorted((self.out / CHECKPOINTS).glob("step-???????"))[: -self.settings.keep_checkpoints]:
                _remove(old)
        if parallel:
            self.accelerator.wait_for_everyone()
        return path

    def resume(self) -> bool:
        """Load the latest checkpoint if there is one; refuse one written for another config."""
        path = self.latest_checkpoint()
        if path is None:
            return False
        state = json.loads((path / STATE_FILE).read_text())
        if state["config_hash"] != self.config_hash:
            raise PolyglotError(
                f"checkpoint {path} was written for a different configuration (hash {state['config_hash'][:12]}, "
                f"now {self.config_hash[:12]}); delete {self.out / CHECKPOINTS} or use --force to start over")
        written_by = state.get("num_processes", 1)
        if written_by != self.share.count:  # each process's random states are saved under its index
            raise PolyglotError(
                f"checkpoint {path} was written by {written_by} process{'es' * (written_by != 1)}, and this run has "
                f"{self.share.count}: resume with `--num_processes {written_by}` (the global batch, and so the "
                f"result, are the same), or delete {self.out / CHECKPOINTS} to start over")
        self.accelerator.load_state(str(path))
        self.step = state["step"]
        self.train_seconds = state.get("train_seconds", 0.0)
        if self.accelerator.is_main_process:
            log.info("resumed from %s (step %d)", path, self.step)
        return True

    # ---------------------------------------------------------------- training

    def train(self) -> dict:
        s = self.settings
        main, parallel = self.accelerator.is_main_process, self.share.parallel
        set_seed(s.seed)
        self.resume()
        self.out.mkdir(parents=True, exist_ok=True)
        started, last = time.time(), {}
        # one process alone must not stop mid-step (the others would wait for it in the gradient
        # all-reduce): under several, a signal is noted and the processes stop together after the step
        signals = []
        handler = (lambda signum, frame: signals.append(signum)) if parallel else _raise_interrupt
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, *([signal.SIGINT] * parallel))}
        bar = tqdm(total=s.steps, initial=self.step, desc="training", unit="step", dynamic_ncols=True,
                   disable=not main)
        try:
            while self.step < s.steps:
                tick = time.monotonic()
                last = self._one_step()
                self.train_seconds += time.monotonic() - tick
                self.step += 1
                bar.update(1)
                bar.set_postfix({k: f"{v:.4f}" for k, v in last.items()})
                record = {"step": self.step, "lr": self.scheduler.get_last_lr()[0], **last,
                          "elapsed_s": round(time.time() - started, 2)}
                if (main and self.evaluate and s.eval_every
                        and (self.step % s.eval_every == 0 or self.step == s.steps)):
                    record.update({f"eval/{k}": v for k, v in self.evaluate().items()})
                if self.step % s.log_every == 0 or "eval/" in "".join(record) or self.step == s.steps:
                    self._log(record)
                if self.step % s.checkpoint_every == 0:
                    self.save_checkpoint()
                used = self.train_seconds if s.budget_excludes_eval else time.time() - started
                if parallel:
                    used, stop = self._agree(used, bool(signals))
                    if stop:
                        raise KeyboardInterrupt
                if s.time_budget_s and used > s.time_budget_s:
                    if main:
                        log.info("time budget of %.0f s reached at step %d", s.time_budget_s, self.step)
                    break
        except KeyboardInterrupt:
            path = self.save_checkpoint()
            if main:
                log.warning("interrupted at step %d; checkpoint %s; rerun to resume", self.step, path)
            raise
        finally:
            bar.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.save_checkpoint()
        if main:
            plot_curves(self.out / METRICS_FILE, self.out / CURVE_FILE)
        summary = {"steps": self.step, "seconds": round(time.time() - started, 1),
                   "train_seconds": round(self.train_seconds, 1), **last}
        if self.step < s.steps:  # only the clock ends a run early (an interruption raises instead)
            summary["stopped_early"] = budget_note(self.step, s.steps)
            if main:
                log.warning("%s: the time budget of %.1f min ran out; the model differs from a run of all %d steps "
                            "(no budget: time budget 0)", summary["stopped_early"], s.time_budget_s / 60, s.steps)
        return summary

    def _agree(self, used: float, signalled: bool) -> tuple[float, bool]:
        """The main process's clock for everyone (the 'budget' schedule and the time budget must
        not differ between processes) and whether any process was signalled to stop."""
        mine = torch.tensor([[float(signalled), self.train_seconds, used]], dtype=torch.float64,
                            device=self.accelerator.device)
        everyone = self.accelerator.gather(mine)
        self.train_seconds = float(everyone[0, 1])
        return float(everyone[0, 2]), bool(everyone[:, 0].max() > 0)

    def _one_step(self) -> dict[str, float]:
        s = self.settings
        totals: dict[str, float] = {}
        for micro in range(s.grad_accum):
            with (self.accelerator.accumulate(self.module), self.accelerator.autocast(),
                  torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cpu_bf16)):
                loss, parts = self.loss_fn(self.step * s.grad_accum + micro)
                values = self.share.mean({"loss": loss.item(), **parts})  # the whole global batch's
                if not math.isfinite(values["loss"]):  # the same on every process: all stop together
                    good = self.latest_checkpoint()
                    raise PolyglotError(
                        f"training diverged: loss is {values['loss']} at step {self.step}; the last good checkpoint is "
                        f"{good or 'none (diverged before the first)'}; lower the learning rate (now {s.lr}) and rerun")
                self.accelerator.backward(loss)
                if self.accelerator.sync_gradients and s.max_grad_norm:
                    self.accelerator.clip_grad_norm_(self.module.parameters(), s.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad()
            for k, v in values.items():
                totals[k] = totals.get(k, 0.0) + v / s.grad_accum
        return totals

    def _log(self, record: dict) -> None:
        if self.accelerator.is_main_process:
            with open(self.out / METRICS_FILE, "a") as f:
                f.write(json.dumps(record) + "\n")


def budget_note(done: int, planned: int) -> str:
    """What a manifest and report say about a run the time budget cut short."""
    return f"trained {done} of {planned} steps (time budget)"


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX), where autocast pays off."""
    try:
        flags = open("/proc/cpuinfo", encoding="ascii", errors="ignore").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def make_accelerator(grad_accum: int = 1) -> Accelerator:
    """split_batches: the processes split one global batch, so the schedule steps once per step (not
    once per process, accelerate's default for batches that grow with the number of processes)."""
    cuda = torch.cuda.is_available()
    return Accelerator(cpu=not cuda, mixed_precision="bf16" if cuda else "no", gradient_accumulation_steps=grad_accum,
                       dataloader_config=DataLoaderConfiguration(split_batches=True))


def _remove(path: Path) -> None:
    """Rename first, then delete: a kill during the deletion leaves a `.old` folder, which is never
    mistaken for a checkpoint, instead of a half-deleted one that still has its state file."""
    if path.exists():
        doomed = path.with_name(path.name + ".old")
        shutil.rmtree(doomed, ignore_errors=True)
        path.rename(doomed)
        shutil.rmtree(doomed, ignore_errors=True)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def read_metrics(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    # a resumed run re-logs steps after its checkpoint: keep the last record of each step
    return list({r["step"]: r for r in rows}.values())


def plot_curves(metrics_path: Path, out_png: Path) -> None:
    """Training losses (left) and evaluation metrics (right) against steps."""
    rows = read_metrics(metrics_path)
    if not rows:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    loss_keys = sorted({k for r in rows for k in r if k not in ("step", "lr", "elapsed_s") and not k.startswith("eval/")})
    for key in loss_keys:
        pts = [(r["step"], r[key]) for r in rows if key in r and math.isfinite(r[key])]
        axes[0].plot(*zip(*pts), label=key)
    axes[0].set(xlabel="step", ylabel="loss", title="training losses", yscale="log")
    axes[0].legend()
    eval_keys = sorted({k for r in rows for k in r if k.startswith("eval/")})
    for key in eval_keys:
        pts = [(r["step"], r[key]) for r in rows if key in r]
        axes[1].plot(*zip(*pts), marker="o", label=key[5:])
    axes[1].set(xlabel="step", title="evaluation during training")
    if eval_keys:
        axes[1].legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
