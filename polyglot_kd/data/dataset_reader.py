"""A `datasets` dataset as a corpus source: a hub id, a `save_to_disk` folder, or csv / json / parquet files.

The dataset stays memory-mapped Arrow; rows are read in batches of the two named columns only. A column
name with a dot ('translation.en') reads one field of a dict column (the layout of many translation sets).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.data.readers import Problems, Reader, Row, normalise

BATCH = 1000
FILE_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


def load(source):
    """The dataset a source names (one split), columns flattened when a dotted name asks for it."""
    import datasets

    files = source.paths or ([source.path] if Path(source.path).is_file() else [])
    if files:
        suffixes = {Path(f).suffix.lower() for f in files}
        if len(suffixes) != 1 or (suffix := suffixes.pop()) not in FILE_BUILDERS:
            raise PolyglotError(f"data files {files}: expected one kind of {sorted(FILE_BUILDERS)}")
        if missing := [f for f in files if not Path(f).is_file()]:
            raise PolyglotError(f"file(s) {', '.join(missing)} do not exist")
        options = {"sep": "\t"} if suffix == ".tsv" else {}
        data = datasets.load_dataset(FILE_BUILDERS[suffix], data_files=files, split="train", **options)
    elif Path(source.path).is_dir():
        data = datasets.load_from_disk(source.path)
        if isinstance(data, datasets.DatasetDict):
            if source.split not in data:
                raise PolyglotError(f"dataset folder {source.path} has no split {source.split!r}; its splits: "
                                    f"{sorted(data)} (set `split`)")
            data = data[source.split]
    else:
        data = datasets.load_dataset(source.path, source.subset or None, split=source.split)
    if any("." in c and c not in data.column_names for c in source.columns):
        data = data.flatten()
    return data


def _scan(source, languages, found: Problems) -> Iterator[Row]:
    try:
        data = load(source)
    except PolyglotError as exc:
        found.add("load", str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - `datasets` raises many kinds; each is the user's input to fix
        found.add("load", f"cannot load dataset {source.path or source.paths}: {type(exc).__name__}: {exc}")
        return
    absent = [c for c in source.columns if c not in data.column_names]
    if absent:
        found.add("columns", f"dataset {source.path or source.paths} has no column(s) {absent}; its columns: "
                             f"{data.column_names} (set `columns` = [source column, target column])")
        return
    first, second = source.columns
    number = 0
    for batch in data.select_columns([first, second]).iter(batch_size=BATCH):
        for a, b in zip(batch[first], batch[second]):
            number += 1
            if not all(isinstance(v, str) or v is None for v in (a, b)):
                found.add("type", f"row {number}: expected text in {first!r} and {second!r}, got "
                                  f"{type(a).__name__} and {type(b).__name__}")
                continue
            s, t = normalise(a or ""), normalise(b or "")
            if bool(s) != bool(t):
                found.add("one side empty", f"row {number}: column {first if not s else second!r} is empty where "
                                            f"{second if not s else first!r} is not; expected text in both")
            elif s:
                yield s, t


DATASET = Reader("dataset", _scan)
