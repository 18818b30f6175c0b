"""The leaderboard's static HTML page.

One self-contained file: inline CSS, a sortable, filterable table (inline JavaScript, no CDN, so it
works offline and from file://) and the plots as base64 PNGs. Clicking a heading sorts by it; the
language filter hides other languages' rows, the task filter other tasks' columns and the rows with
no score for the task. The address keeps the view: `#lang=<code>&task=<task>&sort=<column>[-desc]`
(any of the three) opens the page filtered and sorted.
"""

from __future__ import annotations

import base64
import html

from polyglot_kd.reports.files import BARS_PLOT, SIZE_PLOT
from polyglot_kd.reports.leaderboard_table import Row, fmt, table, task_of

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
.filters label { margin-right: 1.5em; }
[hidden] { display: none !important; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
"""

SCRIPT = """
(function () {
  var table = document.getElementById("board"), body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var rows = function () { return Array.prototype.slice.call(body.rows); };
  var status = document.getElementById("status");
  var langs = document.getElementById("lang"), tasks = document.getElementById("task");
  var sorted = null;  // {i: column, desc: bool} once sorted
  function key(row, i) {
    var v = row.cells[i].getAttribute("data-v");
    if (v === null || v === "") return null;
    var n = Number(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function show() {
    var parts = [], total = body.rows.length, shown = rows().filter(function (r) { return !r.hidden; }).length;
    if (langs.value) parts.push("language " + langs.value);
    if (tasks.value) parts.push("task " + tasks.value);
    var text = parts.length ? shown + " of " + total + " rows (" + parts.join(", ") + ")" : total + " rows";
    status.textContent = text + (sorted ? ", sorted by " + heads[sorted.i].getAttribute("data-key")
      + (sorted.desc ? " (descending)" : " (ascending)") : "; click a column heading to sort");
    var hash = [];
    if (langs.value) hash.push("lang=" + encodeURIComponent(langs.value));
    if (tasks.value) hash.push("task=" + encodeURIComponent(tasks.value));
    if (sorted) hash.push("sort=" + encodeURIComponent(heads[sorted.i].getAttribute("data-key")) + (sorted.desc ? "-desc" : ""));
    var target = hash.length ? "#" + hash.join("&") : "";
    if (location.hash !== target) {  // the address keeps the view, to share or reload
      try { history.replaceState(null, "", target || location.pathname + location.search); } catch (e) {}
    }
  }
  function filter() {
    var lang = langs.value, task = tasks.value;
    heads.forEach(function (h) { var t = h.getAttribute("data-task"); h.hidden = !!(task && t && t !== task); });
    rows().forEach(function (r) {
      var scored = !task || heads.some(function (h, i) {  // a row without a score for the task is hidden too
        return h.getAttribute("data-task") === task && h.getAttribute("data-score") !== null && key(r, i) !== null;
      });
      r.hidden = !((!lang || r.getAttribute("data-lang") === lang) && scored);
      heads.forEach(function (h, i) { r.cells[i].hidden = h.hidden; });
    });
    show();
  }
  function sortBy(i, desc) {
    var all = rows();
    all.sort(function (a, b) {
      var x = key(a, i), y = key(b, i);
      if (x === null || y === null) return (x === null) - (y === null);  // blanks last either way
      var r = x < y ? -1 : x > y ? 1 : 0;
      return desc ? -r : r;
    });
    all.forEach(function (r) { body.appendChild(r); });
    heads.forEach(function (h, j) { h.setAttribute("aria-sort", j === i ? (desc ? "descending" : "ascending") : "none"); });
    sorted = {i: i, desc: desc};
    show();
  }
  heads.forEach(function (h, i) {
    h.addEventListener("click", function () { sortBy(i, h.getAttribute("aria-sort") === "ascending"); });
  });
  langs.addEventListener("change", filter);
  tasks.addEventListener("change", filter);
  function param(name) {
    var m = location.hash.match(new RegExp("[#&]" + name + "=([^&]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  [[langs, "lang"], [tasks, "task"]].forEach(function (p) {  // an unknown value leaves "all"
    var wanted = param(p[1]);
    Array.prototype.forEach.call(p[0].options, function (o) { if (wanted && o.value === wanted) p[0].value = wanted; });
  });
  var name = param("sort"), desc = /-desc$/.test(name), done = false;
  if (desc) name = name.slice(0, -5);
  heads.forEach(function (h, i) { if (name && !done && h.getAttribute("data-key") === name) { sortBy(i, desc); done = true; } });
  filter();
})();
"""


def _options(values: list[str]) -> str:
    return '<option value="">all</option>' + "".join(f'<option value="{html.escape(v)}">{html.escape(v)}</option>'
                                                     for v in values)


def render_html(rows: list[Row], columns: list[str], images: dict[str, bytes]) -> str:
    """The whole page as one string."""
    head, values = table(rows, columns)
    e = html.escape
    # score and retention cells carry their task, so the task filter can hide the other tasks' columns
    tasks = {k: task_of(k.removesuffix(" retention")) for k, _, kind in head if kind in SCORED}
    ths = "".join(f'<th class="{kind}" data-key="{e(k)}"' + (f' data-task="{e(tasks[k])}"' if k in tasks else "")
                  + (" data-score" if kind in ("score", "mean_std") else "")
                  + f' aria-sort="none" title="{e(k)}">{e(h)}</th>' for k, h, kind in head)
    trs = []
    for row, vals in zip(rows, values):
        tds = "".join(f'<td class="{kind}" data-v="{e(_sort_value(v))}">{e(fmt(kind, v))}</td>'
                      for (_, _, kind), v in zip(head, vals))
        trs.append(f'<tr class="{"teacher" if row.is_teacher else "model"}" data-lang="{e(row.language)}">{tds}</tr>')
    figures = "".join(f'<figure><img alt="{e(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                      f"<figcaption>{e(CAPTIONS.get(name, name))}</figcaption></figure>" for name, png in images.items())
    languages = sorted({r.language for r in rows})
    task_names = list(dict.fromkeys(tasks.values()))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>polyglot-kd leaderboard</title><style>{STYLE}</style></head>
<body>
<h1>polyglot-kd leaderboard</h1>
<p>{len(languages)} languages ({e(", ".join(languages))}), {len(rows)} models. Scores in %; <em>vs teacher</em>: the
score as a share of the teacher's on the same data; trained tasks (one column per task, fine-tuning method and test
language): mean ± standard deviation over seeds; <em>compression</em>: teacher parameters / model parameters;
<em>speed-up</em>: encoding throughput against the teacher, timed side by side at evaluation (int8 / static exports:
at release; blank: not measured).</p>
<p class="filters"><label>language <select id="lang">{_options(languages)}</select></label>
<label>task <select id="task">{_options(task_names)}</select></label></p>
<p id="status">(sorting and filters need JavaScript)</p>
<table id="board"><thead><tr>{ths}</tr></thead>
<tbody>
{chr(10).join(trs)}
</tbody></table>
<h2>Plots</h2>
{figures}
<script>{SCRIPT}</script>
</body></html>
"""


SCORED = ("score", "mean_std", "retention")


def _sort_value(value) -> str:
    """What a cell sorts by: the number itself, a trained task's mean."""
    if value is None:
        return ""
    return str(value[0] if isinstance(value, tuple) else value)


CAPTIONS = {SIZE_PLOT: "Score against size: every model of every language (the teacher is the star).",
            BARS_PLOT: "Per language: each model's score beside the teacher's."}
