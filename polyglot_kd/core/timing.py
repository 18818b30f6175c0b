"""Wall-clock timing of named phases, for manifests and benchmarks."""

from __future__ import annotations

import time
from contextlib import contextmanager


class Timer:
    """`with timer("phase"): ...` accumulates seconds per phase."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def total(self) -> float:
        return sum(self.seconds.values())
