"""Result files: one JSON per (model, task, language, method), written and read here (the tables
printed from them are `polyglot_kd.reports.tables.records_table`).

`<root>/<model>/<task>.<language>.<method>.json` holds the mean and standard deviation over seeds of
the task's primary metric, every seed's metrics, the parameter shares, the run's config and package
versions. Tasks that score a frozen encoder (retrieval, mining) use the method name 'frozen'.
"""

from __future__ import annotations

import json
from pathlib import Path

from polyglot_kd.core.files import write_json_atomic

FROZEN = "frozen"


def result_path(root: Path, model: str, task: str, language: str, method: str) -> Path:
    return Path(root) / model / f"{task}.{language}.{method}.json"


def write_records(root: Path, records: list[dict]) -> list[Path]:
    paths = []
    for r in records:
        path = result_path(root, r["model"], r["task"], r["language"], r["method"])
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, r)
        paths.append(path)
    return paths


def summary(record: dict) -> dict:
    """The part of a record a report or leaderboard needs."""
    out = {k: record[k] for k in ("metric", "mean", "std", "seeds") if k in record}
    if "dev" in record:
        out["dev_mean"] = record["dev"]["mean"]
    if "parameters" in record:
        out |= {k: record["parameters"][k] for k in ("trained_share", "stored_share")}
    if "datasets" in record:
        out["datasets"] = record["datasets"]
    return out


def read_records(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(Path(root).glob("*/*.json"))]


def read_summaries(root: Path) -> dict[tuple[str, str, str, str], dict]:
    """{(model, task, language, method): summary} of the trained tasks' records under `root`."""
    return {(r["model"], r["task"], r["language"], r["method"]): summary(r)
            for r in read_records(root) if r.get("method") != FROZEN}
