"""Parallel pairs on disk as an Arrow file that `datasets` memory-maps.

A corpus of millions of pairs is written in chunks and read back batch by batch
(`dataset.iter(batch_size=...)`), so what is held in memory is one batch, not the corpus
(`methods/trim/vocab.count_token_batches` counts such batches).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

COLUMNS = ("source", "target")
CHUNK = 10_000


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
