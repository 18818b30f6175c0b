"""Markdown tables of result files: an eval report (`report.json`) and task result records.

The eval stage writes `report.md` with `render_table`; `polyglot-kd eval` prints `records_table`.
"""

from __future__ import annotations

from polyglot_kd.tasks.results import FROZEN


def render_table(report: dict) -> str:
    """Markdown tables: size and both-direction retrieval accuracy per model, with the change vs the
    teacher; then mining F1 where it ran."""
    src, tgt = report["source"], report["language"]
    sets = list(report["datasets"])
    lines = []
    if sets:
        head = ["model", "params", "x teacher"]
        for d in sets:
            head += [f"{d} {src}->{tgt}", f"{d} {tgt}->{src}", f"{d} mean", "vs teacher"]
        lines = [f"Retrieval accuracy (%), {src}<->{tgt}; " + ", ".join(f"{d}: {n} pairs" for d, n in report["datasets"].items()),
                 "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        teacher = report["models"]["teacher"]["retrieval"]
        for name, r in report["models"].items():
            row = [name, f"{r['params'] / 1e6:.2f}M", f"{r['param_ratio']:.3f}"]
            for d in sets:
                s = r["retrieval"][d]
                row += [f"{100 * s['src2tgt']:.1f}", f"{100 * s['tgt2src']:.1f}", f"{100 * s['mean']:.1f}",
                        f"{100 * (s['mean'] - teacher[d]['mean']):+.1f}"]
            lines.append("| " + " | ".join(row) + " |")
    if "mining" in report.get("tasks", []):
        lines += ["", mining_table(report)] if lines else [mining_table(report)]
    if speed := report.get("speed"):
        lines += ["", f"Encoding speed-up over the teacher ({speed['sentences']} held-out sentences, batch "
                  f"{speed['batch_size']}, {speed['threads']} threads, timed side by side): "
                  + ", ".join(f"{name} {x:.2f}x" for name, x in speed["speedup"].items() if name != "teacher")]
    notes = [f"{name}: {r['stopped_early']}" for name, r in report["models"].items() if r.get("stopped_early")]
    if notes:
        lines += ["", "Cut short: " + "; ".join(notes)]
    return "\n".join(lines)


def mining_table(report: dict) -> str:
    """Markdown table: BUCC-style mining F1 (threshold from Acts) per model and test set."""
    teacher = report["models"]["teacher"]["mining"]
    sets = list(teacher)
    head = ["model"] + [f"{d} {k}" for d in sets for k in ("F1", "P", "R", "vs teacher")]
    lines = [f"Bitext mining (%), {report['source']}<->{report['language']}; "
             + ", ".join(f"{d}: {s['n_gold']} pairs among {s['n_source']} x {s['n_target']} sentences" for d, s in teacher.items()),
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in report["models"].items():
        if "mining" not in r:  # e.g. a stacked model: retrieval only
            continue
        row = [name]
        for d in sets:
            s = r["mining"][d]
            row += [f"{100 * s['f1']:.1f}", f"{100 * s['precision']:.1f}", f"{100 * s['recall']:.1f}",
                    f"{100 * (s['f1'] - teacher[d]['f1']):+.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def records_table(records: list[dict], reference: str = "teacher") -> str:
    """Markdown tables, one per (task, language, method): each model's primary metric (mean ± std
    over seeds, in %), the change vs `reference`, English dev, and the shares of parameters trained
    and stored."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["task"], r["language"], r["method"]), []).append(r)
    out = []
    for (task, language, method), rows in groups.items():
        ref = next((r for r in rows if r["model"] == reference), None)
        if method == FROZEN:
            sets = list(rows[0]["datasets"])
            head = ["model"] + [f"{d} {rows[0]['metric']}" for d in sets] + ["vs teacher"]
            lines = [f"{task}, en<->{language} (%)", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for r in rows:
                diff = f"{100 * (r['mean'] - ref['mean']):+.1f}" if ref else ""
                lines.append("| " + " | ".join([r["model"]] + [_pct(r["datasets"][d][r["metric"]]) for d in sets]
                                               + [diff]) + " |")
        else:
            n = len(rows[0]["seeds"])
            head = ["model", f"{rows[0]['metric']} (mean ± std, {n} seeds)", "vs teacher", "en dev",
                    "trained", "stored"]
            lines = [f"{task}, en->{language}, {method} (%)", "", "| " + " | ".join(head) + " |",
                     "|" + "---|" * len(head)]
            for r in rows:
                p = r["parameters"]
                diff = f"{100 * (r['mean'] - ref['mean']):+.1f}" if ref else ""
                lines.append("| " + " | ".join([
                    r["model"], f"{_pct(r['mean'])} ± {_pct(r['std'])}", diff, _pct(r["dev"]["mean"]),
                    f"{100 * p['trained_share']:.2f}%", f"{100 * p['stored_share']:.2f}%"]) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)
