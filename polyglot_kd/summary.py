"""One table across languages from every build's evaluation report (the leaderboard's first cut)."""

from __future__ import annotations

import json
from pathlib import Path

from polyglot_kd.errors import PolyglotError
from polyglot_kd.stages.evaluate import REPORT_JSON


def read_reports(workdir: Path) -> list[dict]:
    reports = [json.loads(p.read_text()) for p in sorted(Path(workdir).glob(f"*/eval/{REPORT_JSON}"))]
    if not reports:
        raise PolyglotError(f"no evaluation reports under {workdir}/<lang>/eval/; run: polyglot-kd build <lang>")
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
