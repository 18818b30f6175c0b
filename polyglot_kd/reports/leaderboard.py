"""The leaderboard: every build's evaluation report in one table, as Markdown, CSV and a static HTML page.

One row per (language, model): size, compression against the teacher, encoding speed-up where the
release stage measured it, and for every task and dataset the score and its retention (share of the
teacher's score). Tasks are read generically: every dict-valued key of a model entry other than the
known bookkeeping keys is a task, holding either one metrics dict or one metrics dict per dataset, so
tasks added to the eval stage later appear as new columns without changes here.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.pipeline.stages.evaluate import REPORT_JSON

log = logging.getLogger(__name__)

MARKDOWN, CSV, HTML = "leaderboard.md", "leaderboard.csv", "leaderboard.html"
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
    paths = sorted(Path(workdir).glob(f"*/eval/{REPORT_JSON}"))
    if not paths:
        raise PolyglotError(f"no evaluation reports under {workdir}/<lang>/eval/{REPORT_JSON}: nothing to put on a "
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


def measured_speedups(build_root: Path) -> dict[str, float]:
    """Model stage -> speed-up over the teacher, as the release stage measured it (if it ran)."""
    path = build_root / "release" / "manifest.json"
    if not path.is_file():
        return {}
    metrics = json.loads(path.read_text(encoding="utf-8")).get("metrics", {})
    speed = metrics.get("speed") or {}
    return {metrics["model"]: speed["speedup"]} if "speedup" in speed and "model" in metrics else {}


def collect(workdir: Path) -> tuple[list[Row], list[str]]:
    """Rows of every report under `workdir` and the score columns, in first-seen order."""
    rows, columns = [], {}
    for path in report_paths(workdir):
        report = _read(path)
        language = report.get("language") or path.parent.parent.name
        models = report["models"]
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


# ------------------------------------------------------------------------------------ renderings


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


def render_markdown(rows: list[Row], columns: list[str], images: list[str] = ()) -> str:
    head, values = table(rows, columns)
    lines = ["# polyglot-kd leaderboard", "",
             "Scores in %; *vs teacher*: the score as a share of the teacher's on the same data; *compression*: "
             "teacher parameters / model parameters; *speed-up*: encoding throughput against the teacher, measured "
             "side by side by `polyglot-kd release` (blank where not measured). Regenerate: `polyglot-kd leaderboard`.",
             "", "| " + " | ".join(h for _, h, _ in head) + " |", "|" + "---|" * len(head)]
    for row, vals in zip(rows, values):
        cells = [fmt(kind, v) for (_, _, kind), v in zip(head, vals)]
        if row.is_teacher:
            cells[1] = "teacher"
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"![{Path(i).stem}]({Path(i).name})" for i in images]
    return "\n".join(lines).rstrip() + "\n"


def write_csv(rows: list[Row], columns: list[str], path: Path) -> None:
    """Raw numbers (fractions, parameter counts) for further analysis."""
    head, values = table(rows, columns)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([k.replace(" retention", "/retention") for k, _, _ in head])
        for vals in values:
            writer.writerow(["" if v is None else (f"{v:.6g}" if isinstance(v, float) else v) for v in vals])


def write_leaderboard(workdir: Path, out: Path) -> list[Path]:
    """Write leaderboard.md, .csv, .html and the plots' PNGs into `out`; returns the paths written."""
    from polyglot_kd.reports import leaderboard_html

    rows, columns = collect(workdir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = leaderboard_html.plots(rows, columns)
    written = []
    for name, png in images.items():
        (out / name).write_bytes(png)
        written.append(out / name)
    (out / MARKDOWN).write_text(render_markdown(rows, columns, list(images)), encoding="utf-8")
    write_csv(rows, columns, out / CSV)
    (out / HTML).write_text(leaderboard_html.render_html(rows, columns, images), encoding="utf-8")
    written += [out / MARKDOWN, out / CSV, out / HTML]
    log.info("leaderboard: %d rows from %d languages -> %s", len(rows), len({r.language for r in rows}), out)
    return written
