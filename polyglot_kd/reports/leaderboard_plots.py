"""The leaderboard's plots as PNG bytes: score against size, and per-language bars.

Saved without a creation time or software tag (`metadata`), so the same rows give the same bytes and
a board regenerated from its result files is identical to the first rendering.
"""

from __future__ import annotations

import io

from polyglot_kd.reports.files import BARS_PLOT, SIZE_PLOT
from polyglot_kd.reports.leaderboard_table import Row

MAX_PLOTTED_COLUMNS = 4  # subplots per figure; further tasks stay in the table


def plots(rows: list[Row], columns: list[str]) -> dict[str, bytes]:
    """PNG bytes of 'score against size' and 'per-language bars', one panel per score column."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = columns[:MAX_PLOTTED_COLUMNS]
    if not shown:
        return {}
    languages = sorted({r.language for r in rows})
    models = list(dict.fromkeys(r.model for r in rows))
    colors = {lang: plt.cm.tab10(i % 10) for i, lang in enumerate(languages)}
    markers = {m: "*" if m == "teacher" else "osD^v<>p"[i % 8] for i, m in enumerate(models)}
    out = {}

    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 4), squeeze=False)
    for ax, col in zip(axes[0], shown):
        for r in rows:
            if col in r.scores and r.params:
                ax.scatter(r.params / 1e6, 100 * r.scores[col], color=colors[r.language], marker=markers[r.model],
                           s=140 if r.is_teacher else 60, edgecolor="black", linewidth=0.5)
        ax.set(xlabel="parameters (millions)", ylabel="score (%)", title=col.replace("/", " "))
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=colors[lang], marker="o", linestyle="", label=lang) for lang in languages]
    handles += [plt.Line2D([], [], color="gray", marker=markers[m], linestyle="", label=m) for m in models]
    fig.legend(handles=handles, loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.87, 1))
    out[SIZE_PLOT] = _png(fig)

    wide = min(14, max(6, 0.4 * len(languages) * len(models) + 2))
    fig, axes = plt.subplots(len(shown), 1, figsize=(wide, 0.4 + 3 * len(shown)), squeeze=False)
    width = 0.8 / len(models)
    for ax, col in zip(axes[:, 0], shown):
        for j, m in enumerate(models):
            xs, ys = [], []
            for i, lang in enumerate(languages):
                score = next((r.scores.get(col) for r in rows if r.language == lang and r.model == m), None)
                if score is not None:
                    xs.append(i + (j - (len(models) - 1) / 2) * width)
                    ys.append(100 * score)
            ax.bar(xs, ys, width=width, label=m, color=plt.cm.Set2(j % 8), edgecolor="black", linewidth=0.4)
        ax.set_xticks(range(len(languages)), languages)
        ax.set(ylabel="score (%)", title=col.replace("/", " "))
        low = min((100 * r.scores[col] for r in rows if col in r.scores), default=0)
        ax.set_ylim(max(0, low - 10), 100)
        ax.grid(axis="y", alpha=0.3)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=8, ncol=min(6, len(models)), loc="upper center")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / (0.4 + 3 * len(shown))))
    out[BARS_PLOT] = _png(fig)
    return out


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
