"""One table across languages from every build's evaluation report (the leaderboard's first cut)."""

from __future__ import annotations

import json
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.reports.files import EVAL_DIR, REPORT_JSON, TASK_RESULTS_DIR
from polyglot_kd.tasks.results import FROZEN, read_records


def read_reports(workdir: Path) -> list[dict]:
    reports = [json.loads(p.read_text()) for p in sorted(Path(workdir).glob(f"*/{EVAL_DIR}/{REPORT_JSON}"))]
    if not reports:
        raise PolyglotError(f"no evaluation reports under {workdir}/<lang>/{EVAL_DIR}/; run: polyglot-kd build <lang>")
    return reports


def summary_table(workdir: Path, model: str = "trim") -> str:
    """Markdown: per language, the teacher's and `model`'s retrieval (mean of both directions)."""
    lines = ["| lang | params x teacher | Bible teacher | Bible trimmed | diff | UDHR teacher | UDHR trimmed | diff |",
             "|---|---|---|---|---|---|---|---|"]
    for report in read_reports(workdir):
        models = report["models"]
        if model not in models:
            continue
        t, m = models["teacher"]["retrieval"], models[model]["retrieval"]
        row = [report["language"], f"{models[model]['param_ratio']:.3f}"]
        for d in ("bible-test", "udhr"):
            if d in t:
                row += [f"{100 * t[d]['mean']:.1f}", f"{100 * m[d]['mean']:.1f}", f"{100 * (m[d]['mean'] - t[d]['mean']):+.1f}"]
            else:
                row += ["-", "-", "-"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def task_records(workdir: Path) -> list[dict]:
    """Every build's task results (`<workdir>/<lang>/tasks/<model>/*.json`), each tagged with its build."""
    records = []
    for root in sorted(Path(workdir).glob(f"*/{TASK_RESULTS_DIR}")):
        for r in read_records(root):
            records.append(r | {"build": root.parent.name})
    if not records:
        raise PolyglotError(f"no task results under {workdir}/<lang>/{TASK_RESULTS_DIR}/; run: polyglot-kd eval <lang> --tasks pos")
    return records


def _row_name(record: dict) -> str:
    # the teacher is the same model in every build; a built model is named by its build
    return "teacher" if record["model"] == "teacher" else f"{record['build']}/{record['model']}"


def trained_task_tables(workdir: Path) -> str:
    """Markdown, one table per (task, method): rows are the teacher and every build's models, columns
    the test languages (mean ± std over seeds, in %), then the shares of parameters trained and stored."""
    groups: dict[tuple[str, str], dict[str, dict[str, dict]]] = {}
    for r in task_records(workdir):
        if r["method"] != FROZEN:
            groups.setdefault((r["task"], r["method"]), {}).setdefault(_row_name(r), {})[r["language"]] = r
    out = []
    for (task, method), rows in sorted(groups.items()):
        languages = sorted({lang for cells in rows.values() for lang in cells})
        first = next(iter(next(iter(rows.values())).values()))
        head = ["model"] + [f"en->{lang}" for lang in languages] + ["seeds", "trained", "stored"]
        lines = [f"{task}, {method}: {first['metric']} in % (mean ± std over seeds)", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for name in sorted(rows, key=lambda n: (n != "teacher", n)):
            cells = rows[name]
            any_cell = next(iter(cells.values()))
            p = any_cell["parameters"]
            lines.append("| " + " | ".join(
                [name] + [f"{100 * cells[lang]['mean']:.1f} ± {100 * cells[lang]['std']:.1f}" if lang in cells else "-"
                          for lang in languages]
                + [str(len(any_cell["seeds"])), f"{100 * p['trained_share']:.2f}%", f"{100 * p['stored_share']:.2f}%"]) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def frozen_task_tables(workdir: Path) -> str:
    """Markdown, one table per frozen-encoder task (retrieval, mining): a row per build language, the
    primary metric of the teacher and of each built model on each dataset, in %."""
    groups: dict[str, dict[str, dict[str, dict]]] = {}
    for r in task_records(workdir):
        if r["method"] == FROZEN:
            groups.setdefault(r["task"], {}).setdefault(r["build"], {})[r["model"]] = r
    out = []
    for task, builds in sorted(groups.items()):
        models = sorted({m for by_model in builds.values() for m in by_model}, key=lambda m: (m != "teacher", m))
        datasets = sorted({d for by_model in builds.values() for r in by_model.values() for d in r["datasets"]})
        metric = next(iter(next(iter(builds.values())).values()))["metric"]
        head = ["lang"] + [f"{d} {m}" for d in datasets for m in models]
        lines = [f"{task}: {metric} in %", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for lang, by_model in sorted(builds.items()):
            cells = [f"{100 * by_model[m]['datasets'][d][metric]:.1f}"
                     if m in by_model and d in by_model[m]["datasets"] else "-" for d in datasets for m in models]
            lines.append("| " + " | ".join([lang] + cells) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)
