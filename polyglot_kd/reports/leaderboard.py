"""The leaderboard: every build's evaluation report in one table, as Markdown, CSV and a static HTML page.

One row per (language, model): size, compression against the teacher, encoding speed-up where the
release stage measured it, and for every task and dataset the score and its retention (share of the
teacher's score). The rows and columns come from `leaderboard_table`, the page from `leaderboard_html`.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from polyglot_kd.reports import leaderboard_html
from polyglot_kd.reports.files import LEADERBOARD_CSV, LEADERBOARD_HTML, LEADERBOARD_MD
from polyglot_kd.reports.leaderboard_table import Row, collect, fmt, table

log = logging.getLogger(__name__)

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
    rows, columns = collect(workdir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = leaderboard_html.plots(rows, columns)
    written = []
    for name, png in images.items():
        (out / name).write_bytes(png)
        written.append(out / name)
    (out / LEADERBOARD_MD).write_text(render_markdown(rows, columns, list(images)), encoding="utf-8")
    write_csv(rows, columns, out / LEADERBOARD_CSV)
    (out / LEADERBOARD_HTML).write_text(leaderboard_html.render_html(rows, columns, images), encoding="utf-8")
    written += [out / LEADERBOARD_MD, out / LEADERBOARD_CSV, out / LEADERBOARD_HTML]
    log.info("leaderboard: %d rows from %d languages -> %s", len(rows), len({r.language for r in rows}), out)
    return written
