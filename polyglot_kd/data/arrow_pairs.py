"""Parallel pairs on disk as an Arrow file that `datasets` memory-maps.

A corpus of millions of pairs is written in chunks and read back batch by batch
(`dataset.iter(batch_size=...)`), so what is held in memory is one batch, not the corpus
(`methods/trim/vocab.count_token_batches` counts such batches). The corpus layer streams the train role
into such files (`data/corpora.train_files`); trimming counts their columns (`TextColumn`) and
distillation draws its batches from the pairs (`PairFile`): what it holds is the target sides' lengths,
not their text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

COLUMNS = ("source", "target")
CHUNK = 10_000


class ArrowWriter:
    """Rows (tuples of strings, None for a missing value) appended to an Arrow stream file, `chunk` at a
    time; written under a temporary name and renamed into place when the block ends without an error."""

    def __init__(self, path: Path, columns: Sequence[str] = COLUMNS, chunk: int = CHUNK):
        import pyarrow as pa

        self.path, self.columns, self.chunk = Path(path), tuple(columns), chunk
        self.schema = pa.schema([(c, pa.string()) for c in self.columns])
        self.rows: list[tuple] = []
        self.written = 0

    def __enter__(self) -> ArrowWriter:
        import pyarrow as pa

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self.sink = pa.OSFile(str(self.tmp), "wb")
        self.writer = pa.ipc.new_stream(self.sink, self.schema)
        return self

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) == self.chunk:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.rows:
            columns = [pa.array(list(values), pa.string()) for values in zip(*self.rows)]
            self.writer.write_batch(pa.record_batch(columns, schema=self.schema))
            self.written += len(self.rows)
            self.rows = []

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self._flush()
        self.writer.close()
        self.sink.close()
        if kind is None:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def write_pairs(pairs: Iterable[tuple[str, str]], path: Path, chunk: int = CHUNK) -> int:
    """Write (source, target) pairs to an Arrow stream file at `path` (through a temporary name), `chunk`
    pairs at a time; the number written."""
    with ArrowWriter(path, COLUMNS, chunk) as writer:
        for pair in pairs:
            writer.add(pair)
    return writer.written


def open_pairs(path: Path):
    """The pairs file as a memory-mapped `datasets.Dataset` (columns 'source', 'target')."""
    import datasets

    return datasets.Dataset.from_file(str(path))


def first_rows(dataset, rows: int | None):
    """The first `rows` rows of a dataset (all of them when None or more than it has)."""
    return dataset.select(range(rows)) if rows is not None and rows < len(dataset) else dataset


class TextColumn:
    """One string column of a memory-mapped dataset as a read-only sequence of texts: its length, slices
    (lists) and iteration, read `CHUNK` rows at a time, so a counter or scanner never holds the column."""

    def __init__(self, dataset, column: str = "text"):
        self.dataset, self.column = dataset, column

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.dataset[index][self.column]
        return self.dataset[int(index)][self.column]

    def __iter__(self) -> Iterator[str]:
        for batch in self.dataset.iter(batch_size=CHUNK):
            yield from batch[self.column]


class PairFile:
    """Parallel pairs read from a memory-mapped Arrow file, as a training set: its length, the length
    (in characters) of each target side, and the pairs at given indices."""

    def __init__(self, path: Path, name: str = "train", rows: int | None = None, dataset=None):
        """`rows`: only the file's first `rows` pairs; `dataset`: the pairs already opened (e.g. the file
        followed by a few pairs in memory), else the file's."""
        self.path, self.name = Path(path), name
        self.dataset = first_rows(open_pairs(self.path) if dataset is None else dataset, rows)

    def __len__(self) -> int:
        return len(self.dataset)

    def target_lengths(self) -> np.ndarray:
        import pyarrow.compute as pc

        lengths = pc.utf8_length(self.dataset.with_format("arrow")["target"])  # counted in Arrow, no Python strings
        return lengths.to_numpy().astype(np.int32)

    def take(self, idx: Sequence[int]) -> tuple[list[str], list[str]]:
        rows = self.dataset[[int(i) for i in idx]]
        return rows["source"], rows["target"]
