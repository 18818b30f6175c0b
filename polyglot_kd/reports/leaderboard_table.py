"""The leaderboard's rows: every build's eval report read into one (language, model) row each, and the
columns and display formats that the Markdown, CSV and HTML renderings share.

Tasks are read generically: every dict-valued key of a model entry other than the known bookkeeping
keys is a task, holding one metrics dict, one metrics dict per dataset, or (a trained task) one summary
per fine-tuning method and test language, so tasks added later appear as new columns without changes here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from polyglot_kd.reports.leaderboard_results import BuildResults

log = logging.getLogger(__name__)

# Which metric of a metrics dict is the score, in order of preference ("mean": retrieval's both directions).
PRIMARY_KEYS = ("mean", "main_score", "score", "f1", "accuracy", "acc", "exact_match", "em")
NOT_TASKS = {"path", "params", "param_ratio", "speedup", "seconds", "timings"}
EXPORTS = ("int8", "static")


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
    spread: dict[str, float | None] = field(default_factory=dict)
    """Trained tasks' columns -> standard deviation over seeds."""

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
        if _number(value := metrics.get(name)):
            return float(value)
    return None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def task_scores(entry: dict) -> tuple[dict[str, float], dict[str, float | None]]:
    """Column -> score, and for trained tasks column -> standard deviation over seeds (None: not
    recorded), of one model entry of a report:
    {task: metrics}, {task: {dataset: metrics}}, or a trained task's {task: {method: {language: summary}}}
    (`polyglot-kd eval`, one column per method and test language)."""
    scores, spread = {}, {}
    for task, value in entry.items():
        if task in NOT_TASKS or not isinstance(value, dict):
            continue
        direct = primary_score(value)
        if direct is not None:  # the task holds one metrics dict
            scores[task] = direct
            continue
        for dataset, metrics in value.items():
            score = primary_score(metrics) if isinstance(metrics, dict) else None
            if score is not None:
                scores[f"{task}/{dataset}"] = score
                continue
            trained = {lang: s for lang, s in metrics.items() if isinstance(s, dict) and _number(s.get("mean"))} \
                if isinstance(metrics, dict) else {}
            if not trained:
                log.debug("skipping %s/%s: no recognised metric in %r", task, dataset, metrics)
            for language, summary in trained.items():  # `dataset` is a fine-tuning method here
                column = f"{task}/{dataset}/{language}"
                scores[column] = float(summary["mean"])
                spread[column] = float(summary["std"]) if _number(summary.get("std")) else None
    return scores, spread


def export_entries(release: dict, models: dict) -> dict[str, dict]:
    """'<stage>-int8' / '<stage>-static' -> a report-shaped entry, for a release with such exports: their
    retrieval scores, the released model's parameter count and their measured speed-ups."""
    if release.get("model") not in models:
        return {}
    return {f"{release['model']}-{kind}": {"params": models[release["model"]].get("params"),
                                           "speedup": export.get("speedup"), "retrieval": export.get("scores", {})}
            for kind in EXPORTS if (export := release.get(kind))}


def release_speedups(release: dict) -> dict[str, float]:
    """Model stage -> speed-up over the teacher as the release stage measured it, for reports made
    before the eval stage timed every model."""
    speed = release.get("speed") or {}
    return {release["model"]: speed["speedup"]} if "speedup" in speed and "model" in release else {}


def rows_and_columns(builds: list[BuildResults]) -> tuple[list[Row], list[str]]:
    """One row per (build, model), teacher first, and the score columns in first-seen order."""
    rows, columns = [], {}
    for b in builds:
        language = b.report.get("language") or b.name
        models = dict(b.report["models"])
        models |= export_entries(b.release, models)
        teacher = models.get("teacher", {})
        teacher_scores, _ = task_scores(teacher)
        speedups = release_speedups(b.release)
        ordered = (["teacher"] if "teacher" in models else []) + [m for m in models if m != "teacher"]
        for name in ordered:
            entry = models[name]
            scores, spread = task_scores(entry)
            columns.update(dict.fromkeys(scores))
            speedup = entry.get("speedup") if _number(entry.get("speedup")) else speedups.get(name)
            rows.append(Row(language=language, model=name, params=entry.get("params"), teacher_params=teacher.get("params"),
                            speedup=1.0 if name == "teacher" else speedup, scores=scores, spread=spread,
                            retention={c: s / teacher_scores[c] for c, s in scores.items() if teacher_scores.get(c)}))
    return rows, list(columns)


def fmt(kind: str, value) -> str:
    """Display text of a value: params in millions, ratios with an x, scores and retention in %,
    a trained task's (mean, std) as 'mean ± std'."""
    if value is None:
        return ""
    if kind == "params":
        return f"{value / 1e6:.2f}M"
    if kind == "ratio":
        return f"{value:.2f}x"
    if kind == "score":
        return f"{100 * value:.1f}"
    if kind == "mean_std":
        mean, std = value
        return f"{100 * mean:.1f}" + ("" if std is None else f" ± {100 * std:.1f}")
    if kind == "retention":
        return f"{100 * value:.1f}%"
    return str(value)


def task_of(column: str) -> str:
    return column.split("/")[0]


def table(rows: list[Row], columns: list[str]) -> tuple[list[tuple[str, str, str]], list[list]]:
    """(key, heading, kind) of every column and each row's raw values, shared by all renderings; a
    trained task's column holds (mean, std) or None."""
    head = [("language", "language", "text"), ("model", "model", "text"), ("params", "params", "params"),
            ("compression", "compression", "ratio"), ("speedup", "speed-up", "ratio")]
    trained = {c for r in rows for c in r.spread}
    for c in columns:
        head += [(c, c.replace("/", " "), "mean_std" if c in trained else "score"),
                 (f"{c} retention", "vs teacher", "retention")]
    values = []
    for r in rows:
        cells = [r.language, r.model, r.params, r.compression, r.speedup]
        for c in columns:
            score = r.scores.get(c)
            if c in trained and score is not None:
                score = (score, r.spread.get(c))
            cells += [score, r.retention.get(c)]
        values.append(cells)
    return head, values
