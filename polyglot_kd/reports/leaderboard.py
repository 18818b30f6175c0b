"""The leaderboard: every build's evaluation report in one table, as Markdown, CSV and a static HTML page.

One row per (language, model): size, compression against the teacher, encoding speed-up (timed beside
the teacher by the eval stage), and for every task and dataset the score and its retention (share of
the teacher's score); trained tasks show mean ± std over seeds per method and test language. The
rows and columns come from `leaderboard_table`, the page from `leaderboard_html`, the plots from
`leaderboard_plots`; the inputs are kept beside the board (`leaderboard_results`), and
`write_from_results` renders the same board from them.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from polyglot_kd.reports import leaderboard_html, leaderboard_plots
from polyglot_kd.reports.files import LEADERBOARD_CSV, LEADERBOARD_HTML, LEADERBOARD_MD, LEADERBOARD_RESULTS
from polyglot_kd.reports.leaderboard_results import BuildResults, from_builds, read_results, write_results
from polyglot_kd.reports.leaderboard_table import Row, fmt, rows_and_columns, table

log = logging.getLogger(__name__)

LEGEND = ("Scores in %; *vs teacher*: the score as a share of the teacher's on the same data; trained tasks "
          "(`polyglot-kd eval`, one column per task, fine-tuning method and test language): mean ± standard "
          "deviation over seeds; *compression*: teacher parameters / model parameters; *speed-up*: encoding "
          "throughput against the teacher, timed side by side at evaluation (int8 / static exports: at release; "
          "blank where not measured).")


def collect(workdir: Path) -> tuple[list[Row], list[str]]:
    """Rows and score columns of every build under `workdir`."""
    return rows_and_columns(from_builds(workdir))


def render_markdown(rows: list[Row], columns: list[str], images: list[str] = ()) -> str:
    head, values = table(rows, columns)
    lines = ["# polyglot-kd leaderboard", "", LEGEND + " Regenerate: `polyglot-kd leaderboard` (from the builds) "
             f"or `polyglot-kd leaderboard --from-results` (from the `{LEADERBOARD_RESULTS}/` files kept here).",
             "", "| " + " | ".join(h for _, h, _ in head) + " |", "|" + "---|" * len(head)]
    for row, vals in zip(rows, values):
        cells = [fmt(kind, v) for (_, _, kind), v in zip(head, vals)]
        if row.is_teacher:
            cells[1] = "teacher"
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"![{Path(i).stem}]({Path(i).name})" for i in images]
    return "\n".join(lines).rstrip() + "\n"


def render_csv(rows: list[Row], columns: list[str]) -> str:
    """Raw numbers (fractions, parameter counts) for further analysis; a trained task's column is its
    mean, with its std in '<column>/std'."""
    head, values = table(rows, columns)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    names = []
    for key, _, kind in head:
        names += [key.replace(" retention", "/retention")] + ([f"{key}/std"] if kind == "mean_std" else [])
    writer.writerow(names)
    for vals in values:
        raw = []
        for (_, _, kind), v in zip(head, vals):
            raw += list(v or (None, None)) if kind == "mean_std" else [v]
        writer.writerow(["" if v is None else (f"{v:.6g}" if isinstance(v, float) else v) for v in raw])
    return buf.getvalue()


def render(builds: list[BuildResults], out: Path) -> list[Path]:
    """Write the board of `builds` into `out`: leaderboard.md, .csv, .html, the plots' PNGs and the
    result files they were made from; returns the paths written."""
    rows, columns = rows_and_columns(builds)
    images = leaderboard_plots.plots(rows, columns)  # everything is rendered before the first file is written
    texts = {LEADERBOARD_MD: render_markdown(rows, columns, list(images)), LEADERBOARD_CSV: render_csv(rows, columns),
             LEADERBOARD_HTML: leaderboard_html.render_html(rows, columns, images)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, png in images.items():
        (out / name).write_bytes(png)
        written.append(out / name)
    for name, text in texts.items():
        (out / name).write_bytes(text.encode("utf-8"))  # bytes: no newline translation on any platform
        written.append(out / name)
    written += write_results(builds, out / LEADERBOARD_RESULTS)
    log.info("leaderboard: %d rows from %d languages -> %s", len(rows), len({r.language for r in rows}), out)
    return written


def write_leaderboard(workdir: Path, out: Path) -> list[Path]:
    """The board of every build under `workdir`, written into `out` with its result files."""
    return render(from_builds(workdir), out)


def update_leaderboard(workdir: Path, out: Path) -> list[Path]:
    """The board kept in `out` with the builds under `workdir` added: a build here replaces its own
    result file, the others stay, so languages built on different machines share one board."""
    built = from_builds(workdir)
    here = {b.name for b in built}
    folder = Path(out) / LEADERBOARD_RESULTS
    kept = [b for b in read_results(folder) if b.name not in here] if any(folder.glob("*.json")) else []
    log.info("leaderboard: %s from the builds, %d kept result files", ", ".join(sorted(here)), len(kept))
    return render(sorted(kept + built, key=lambda b: b.name), out)


def write_from_results(results: Path, out: Path) -> list[Path]:
    """The board of the result files in `results` (every one checked first), written into `out`."""
    return render(read_results(results), out)
