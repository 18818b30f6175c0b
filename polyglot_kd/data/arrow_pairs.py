"""Parallel pairs on disk as an Arrow file that `datasets` memory-maps.

A corpus of millions of pairs is written in chunks and read back batch by batch
(`dataset.iter(batch_size=...)`), so what is held in memory is one batch, not the corpus
(`methods/trim/vocab.count_token_batches` counts such batches). Distillation draws its batches from
such a file too (`PairFile`): what it holds is the target sides' lengths, not their text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

COLUMNS = ("source", "target")
CHUNK = 10_000
TRAINING_FILE = "training-pairs.arrow"  # a training stage's pairs while it trains


def write_pairs(pairs: Iterable[tuple[str, str]], path: Path, chunk: int = CHUNK) -> int:
    """Write (source, target) pairs to an Arrow stream file at `path` (through a temporary name), `chunk`
    pairs at a time; the number written."""
    import pyarrow as pa

    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    written = 0
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for block in _chunks(pairs, chunk):
            source, target = zip(*block)
            writer.write_batch(pa.record_batch([pa.array(source), pa.array(target)], schema=schema))
            written += len(block)
    tmp.replace(path)
    return written


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    block = []
    for item in items:
        block.append(item)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def open_pairs(path: Path):
    """The pairs file as a memory-mapped `datasets.Dataset` (columns 'source', 'target')."""
    import datasets

    return datasets.Dataset.from_file(str(path))


def first_rows(dataset, rows: int | None):
    """The first `rows` rows of a dataset (all of them when None or more than it has)."""
    return dataset.select(range(rows)) if rows is not None and rows < len(dataset) else dataset


class PairFile:
    """Parallel pairs read from a memory-mapped Arrow file, as a training set: its length, the length
    (in characters) of each target side, and the pairs at given indices."""

    def __init__(self, path: Path, name: str = "train", rows: int | None = None):
        """`rows`: only the file's first `rows` pairs."""
        self.path, self.name = Path(path), name
        self.dataset = first_rows(open_pairs(self.path), rows)

    @classmethod
    def for_training(cls, pairs, path: Path, accelerator=None) -> PairFile:
        """`pairs` (a ParallelSet) written to `path` by the main process (every process of a launched run
        then reads the one file), and read from there."""
        if accelerator is None or accelerator.is_main_process:
            write_pairs(zip(pairs.source, pairs.target), path)
        if accelerator is not None:
            accelerator.wait_for_everyone()
        return cls(path, pairs.name)

    def __len__(self) -> int:
        return len(self.dataset)

    def target_lengths(self) -> np.ndarray:
        import pyarrow.compute as pc

        lengths = pc.utf8_length(self.dataset.with_format("arrow")["target"])  # counted in Arrow, no Python strings
        return lengths.to_numpy().astype(np.int32)

    def take(self, idx: Sequence[int]) -> tuple[list[str], list[str]]:
        rows = self.dataset[[int(i) for i in idx]]
        return rows["source"], rows["target"]
