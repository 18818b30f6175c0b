"""The leaderboard's rows: every build's eval report read into one (language, model) row each, and the
columns and display formats that the Markdown, CSV and HTML renderings share.

Tasks are read generically: every dict-valued key of a model entry other than the known bookkeeping
keys is a task, holding either one metrics dict or one metrics dict per dataset, so tasks added to the
eval stage later appear as new columns without changes here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.reports.files import EVAL_DIR, MANIFEST, RELEASE_DIR, REPORT_JSON

log = logging.getLogger(__name__)

# Which metric of a metrics dict is the score, in order of preference ("mean": retrieval's both directions).
PRIMARY_KEYS = ("mean", "main_score", "score", "f1", "accuracy", "acc", "exact_match", "em")
NOT_TASKS = {"path", "params", "param_ratio", "speedup", "seconds", "timings"}


@dataclass
class Row:
    """One (language, model) entry."""

    language: str
    model: str
    params: int | None
    teacher_params: int | None
    speedup: float | None = None
    scores: dict[str, float] = field(default_factory=dict)
    """Column ('task/dataset') -> score as a fraction (0..1)."""
    retention: dict[str, float] = field(default_factory=dict)
    """Column -> score / the teacher's score on it."""

    @property
    def is_teacher(self) -> bool:
        return self.model == "teacher"

    @property
    def compression(self) -> float | None:
        """How many times smaller than the teacher (teacher params / params)."""
        return self.teacher_params / self.params if self.params and self.teacher_params else None


def primary_score(metrics: dict) -> float | None:
    """The headline number of a metrics dict: its 'primary_metric' if named, else the first of PRIMARY_KEYS."""
    names = ([metrics["primary_metric"]] if isinstance(metrics.get("primary_metric"), str) else []) + list(PRIMARY_KEYS)
    for name in names:
        value = metrics.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def task_scores(entry: dict) -> dict[str, float]:
    """Column -> score for one model entry of a report ({task: {dataset: metrics}} or {task: metrics})."""
    out = {}
    for task, value in entry.items():
        if task in NOT_TASKS or not isinstance(value, dict):
            continue
        direct = primary_score(value)
        if direct is not None:  # the task holds one metrics dict
            out[task] = direct
            continue
        for dataset, metrics in value.items():
            score = primary_score(metrics) if isinstance(metrics, dict) else None
            if score is None:
                log.debug("skipping %s/%s: no recognised metric in %r", task, dataset, metrics)
            else:
                out[f"{task}/{dataset}"] = score
    return out


def report_paths(workdir: Path) -> list[Path]:
    paths = sorted(Path(workdir).glob(f"*/{EVAL_DIR}/{REPORT_JSON}"))
    if not paths:
        raise PolyglotError(f"no evaluation reports under {workdir}/<lang>/{EVAL_DIR}/{REPORT_JSON}: nothing to put on a "
                            "leaderboard; run: polyglot-kd build <lang> --stages trim,eval")
    return paths


def _read(path: Path) -> dict:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PolyglotError(f"cannot read evaluation report {path}: {exc}") from None
    if not isinstance(report.get("models"), dict) or not report["models"]:
        raise PolyglotError(f"evaluation report {path} has no 'models' table; rebuild it with --force eval")
    return report


def release_metrics(build_root: Path) -> dict:
    path = build_root / RELEASE_DIR / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")).get("metrics", {}) if path.is_file() else {}


EXPORTS = ("int8", "static")


def export_entries(build_root: Path, models: dict) -> dict[str, dict]:
    """'<stage>-int8' / '<stage>-static' -> a report-shaped entry, for a release with such exports: their
    retrieval scores, the released model's parameter count and their measured speed-ups."""
    metrics = release_metrics(build_root)
    if metrics.get("model") not in models:
        return {}
    return {f"{metrics['model']}-{kind}": {"params": models[metrics["model"]].get("params"),
                                           "speedup": export.get("speedup"), "retrieval": export.get("scores", {})}
            for kind in EXPORTS if (export := metrics.get(kind))}


def measured_speedups(build_root: Path) -> dict[str, float]:
    """Model stage -> speed-up over the teacher, as the release stage measured it (if it ran)."""
    metrics = release_metrics(build_root)
    speed = metrics.get("speed") or {}
    return {metrics["model"]: speed["speedup"]} if "speedup" in speed and "model" in metrics else {}


def collect(workdir: Path) -> tuple[list[Row], list[str]]:
    """Rows of every report under `workdir` and the score columns, in first-seen order."""
    rows, columns = [], {}
    for path in report_paths(workdir):
        report = _read(path)
        language = report.get("language") or path.parent.parent.name
        models = dict(report["models"])
        models |= export_entries(path.parent.parent, models)
        teacher = models.get("teacher", {})
        teacher_scores = task_scores(teacher)
        speedups = measured_speedups(path.parent.parent)
        ordered = (["teacher"] if "teacher" in models else []) + [m for m in models if m != "teacher"]
        for name in ordered:
            entry = models[name]
            scores = task_scores(entry)
            columns.update(dict.fromkeys(scores))
            speedup = entry.get("speedup") if isinstance(entry.get("speedup"), (int, float)) else speedups.get(name)
            rows.append(Row(language=language, model=name, params=entry.get("params"), teacher_params=teacher.get("params"),
                            speedup=1.0 if name == "teacher" else speedup, scores=scores,
                            retention={c: s / teacher_scores[c] for c, s in scores.items() if teacher_scores.get(c)}))
    return rows, list(columns)


def fmt(kind: str, value) -> str:
    """Display text of a value: params in millions, ratios with an x, scores and retention in %."""
    if value is None:
        return ""
    if kind == "params":
        return f"{value / 1e6:.2f}M"
    if kind == "ratio":
        return f"{value:.2f}x"
    if kind == "score":
        return f"{100 * value:.1f}"
    if kind == "retention":
        return f"{100 * value:.1f}%"
    return str(value)


def table(rows: list[Row], columns: list[str]) -> tuple[list[tuple[str, str, str]], list[list]]:
    """(key, heading, kind) of every column and each row's raw values, shared by all renderings."""
    head = [("language", "language", "text"), ("model", "model", "text"), ("params", "params", "params"),
            ("compression", "compression", "ratio"), ("speedup", "speed-up", "ratio")]
    for c in columns:
        head += [(c, c.replace("/", " "), "score"), (f"{c} retention", "vs teacher", "retention")]
    values = [[r.language, r.model, r.params, r.compression, r.speedup]
              + [x for c in columns for x in (r.scores.get(c), r.retention.get(c))] for r in rows]
    return head, values
