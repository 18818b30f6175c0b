"""Each process's share of a step's global batch under data parallelism (`accelerate launch`).

The batch function builds the whole global batch of a step (a pure function of the step, so resumes
are exact); process r of N takes its contiguous slice of the rows. DDP averages the processes'
gradients, so each process returns a loss whose mean over the processes equals the loss of the
whole batch, in value and in gradient:

- a mean over rows with equal-sized slices needs nothing (the mean of equal halves' means is the
  mean); `rows` refuses a batch that does not divide, naming both sizes;
- a mean over something that varies per slice (real tokens, labelled positions) is reweighted by
  `by_count` (N x local count / global count);
- a term over the whole batch (in-batch negatives) reads the other processes' rows through
  `gather` (their rows without gradient) and is made a whole-batch term by `whole_batch`.

On one process every helper returns its input unchanged.
"""

from __future__ import annotations

import logging
import os
import sys

import torch

from polyglot_kd.core.errors import PolyglotError


def processes():
    """This run's processes (accelerate's PartialState): one, unless under `accelerate launch`. Made with
    `cpu` where there is no GPU, as accelerate detects several CPU processes (gloo) only then."""
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def exit_if_parallel(code: int) -> None:
    """End a process of a launched run here, with `code`, once its work is written; on one process,
    return. Leaving the process group is not enough: gloo's worker threads outlive it, and a process
    that reaches interpreter shutdown with them now and then aborts (SIGABRT), which fails the whole
    launch after a run that succeeded. So the streams are flushed and the process exits at once."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    torch.distributed.destroy_process_group()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def too_many_processes(num_processes: int, global_batch: int, what: str = "batch") -> str | None:
    """The problem with sharing a global batch of `global_batch` rows among `num_processes`, or None."""
    if num_processes > global_batch:
        return (f"{num_processes} processes for a global {what} of {global_batch}: every process needs a "
                f"share; launch at most {global_batch} processes or raise the {what}")
    if global_batch % num_processes:
        return (f"a global {what} of {global_batch} does not divide among {num_processes} processes; "
                f"use a multiple of {num_processes}")
    return None


class Share:
    """This process's part of each global batch; `accelerator` None (or one process): the whole batch."""

    def __init__(self, accelerator=None):
        self.accelerator = accelerator
        self.index = accelerator.process_index if accelerator is not None else 0
        self.count = accelerator.num_processes if accelerator is not None else 1

    @property
    def parallel(self) -> bool:
        return self.count > 1

    def rows(self, global_size: int) -> slice:
        """The contiguous rows of a global batch of `global_size` that this process takes (equal shares)."""
        problem = too_many_processes(self.count, global_size)
        if problem:
            raise PolyglotError(problem)
        size = global_size // self.count
        return slice(self.index * size, (self.index + 1) * size)

    def uneven_rows(self, global_size: int) -> slice:
        """Contiguous, as equal as possible (the first `global_size % N` processes take one more);
        for batches whose size the loop does not choose (an epoch's last, partial one). Empty when
        there are fewer rows than processes."""
        size, extra = divmod(global_size, self.count)
        start = self.index * size + min(self.index, extra)
        return slice(start, start + size + (self.index < extra))

    def total(self, local_count) -> torch.Tensor:
        """The sum of a count over the processes."""
        local = torch.as_tensor(local_count, dtype=torch.float32, device=self.accelerator.device)
        return self.accelerator.reduce(local.clone(), reduction="sum")

    def by_count(self, loss: torch.Tensor, local_count, global_count=None) -> torch.Tensor:
        """`loss`, a mean over `local_count` things of this process's rows, as its share of the mean
        over all processes' things (global_count: their sum, counted here when not given)."""
        if not self.parallel:
            return loss
        global_count = self.total(local_count) if global_count is None else global_count
        return loss * (self.count * torch.as_tensor(local_count, dtype=loss.dtype, device=loss.device)
                       / torch.as_tensor(global_count, dtype=loss.dtype, device=loss.device))

    def gather(self, local: torch.Tensor) -> torch.Tensor:
        """Every process's rows (equal shares) in global order; this process's keep their gradient."""
        if not self.parallel:
            return local
        everyone = self.accelerator.gather(local.detach().contiguous())
        size = len(local)
        return torch.cat([everyone[: self.index * size], local, everyone[(self.index + 1) * size:]])

    def whole_batch(self, term: torch.Tensor) -> torch.Tensor:
        """A term every process computes over the whole batch (`gather`ed) with gradient through its
        own rows only: its value is kept, its gradient scaled by N, so DDP's mean over the processes
        is the whole batch's gradient."""
        if not self.parallel:
            return term
        return term * self.count - term.detach() * (self.count - 1)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Per-process reported losses averaged over the processes (the whole batch's, by the rules above)."""
        if not self.parallel or not values:
            return values
        local = torch.tensor(list(values.values()), dtype=torch.float64, device=self.accelerator.device)
        return dict(zip(values, self.accelerator.reduce(local, reduction="mean").tolist()))
