"""The leaderboard's static HTML page and its plots.

One self-contained file: inline CSS, a sortable table (a few lines of inline JavaScript, no CDN, so it
works offline and from file://) and the plots as base64 PNGs. Clicking a heading sorts by it; an
address ending in `#sort=<column>` or `#sort=<column>-desc` opens the page sorted.
"""

from __future__ import annotations

import base64
import html
import io

from polyglot_kd.reports.files import BARS_PLOT, SIZE_PLOT
from polyglot_kd.reports.leaderboard_table import Row, fmt, table

MAX_PLOTTED_COLUMNS = 4  # subplots per figure; further tasks stay in the table

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
td.text, th.text { text-align: left; }
tr.teacher { background: #fff8e0; }
#status { color: #555; font-size: 13px; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
"""

SCRIPT = """
(function () {
  var table = document.getElementById("board"), body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var status = document.getElementById("status");
  function key(row, i) {
    var v = row.cells[i].getAttribute("data-v");
    if (v === null || v === "") return null;
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function sortBy(i, desc) {
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, i), y = key(b, i);
      if (x === null || y === null) return (x === null) - (y === null);  // blanks last either way
      var r = x < y ? -1 : x > y ? 1 : 0;
      return desc ? -r : r;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h, j) { h.setAttribute("aria-sort", j === i ? (desc ? "descending" : "ascending") : "none"); });
    status.textContent = rows.length + " rows, sorted by " + heads[i].getAttribute("data-key") + (desc ? " (descending)" : " (ascending)");
  }
  heads.forEach(function (h, i) {
    h.addEventListener("click", function () { sortBy(i, h.getAttribute("aria-sort") === "ascending"); });
  });
  var m = location.hash.match(/sort=([^&]+)/), done = false;
  if (m) {
    var name = decodeURIComponent(m[1]), desc = /-desc$/.test(name);
    if (desc) name = name.slice(0, -5);
    heads.forEach(function (h, i) { if (!done && h.getAttribute("data-key") === name) { sortBy(i, desc); done = true; } });
  }
  if (!done) status.textContent = body.rows.length + " rows; click a column heading to sort";
})();
"""


def render_html(rows: list[Row], columns: list[str], images: dict[str, bytes]) -> str:
    """The whole page as one string."""
    head, values = table(rows, columns)
    e = html.escape
    ths = "".join(f'<th class="{kind}" data-key="{e(k)}" aria-sort="none" title="{e(k)}">{e(h)}</th>' for k, h, kind in head)
    trs = []
    for row, vals in zip(rows, values):
        tds = "".join(f'<td class="{kind}" data-v="{e("" if v is None else str(v))}">{e(fmt(kind, v))}</td>'
                      for (_, _, kind), v in zip(head, vals))
        trs.append(f'<tr class="{"teacher" if row.is_teacher else "model"}">{tds}</tr>')
    figures = "".join(f'<figure><img alt="{e(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                      f"<figcaption>{e(CAPTIONS.get(name, name))}</figcaption></figure>" for name, png in images.items())
    languages = sorted({r.language for r in rows})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>polyglot-kd leaderboard</title><style>{STYLE}</style></head>
<body>
<h1>polyglot-kd leaderboard</h1>
<p>{len(languages)} languages ({e(", ".join(languages))}), {len(rows)} models. Scores in %; <em>vs teacher</em>: the
score as a share of the teacher's on the same data; <em>compression</em>: teacher parameters / model parameters;
<em>speed-up</em>: encoding throughput against the teacher, measured side by side at release (blank: not measured).</p>
<p id="status">(sorting needs JavaScript)</p>
<table id="board"><thead><tr>{ths}</tr></thead>
<tbody>
{chr(10).join(trs)}
</tbody></table>
<h2>Plots</h2>
{figures}
<script>{SCRIPT}</script>
</body></html>
"""


CAPTIONS = {SIZE_PLOT: "Score against size: every model of every language (the teacher is the star).",
            BARS_PLOT: "Per language: each model's score beside the teacher's."}


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
