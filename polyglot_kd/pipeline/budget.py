"""Build to a budget: pick a student shape from the language's frontier, then train it fully.

`params=12M` (at most this many parameters; `0.1x` is a share of the teacher's), `speedup=3` (at
least this encoding speed-up over the teacher, measured side by side) or `retention=97` (at least this
% of the teacher's retrieval, then the fewest parameters). Among the points that meet the budget the
one keeping most of the teacher's retrieval on the selection set wins (dev verses: the test sets the
reports quote never choose a model). The frontier is read from the build, else from the shipped result
files under `eval/`, else computed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError, did_you_mean
from polyglot_kd.core.paths import shipped_folder

log = logging.getLogger(__name__)

BUDGET_KEYS = ("params", "speedup", "retention")
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*([kKmMbB]|x)?")
_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9}


@dataclasses.dataclass(frozen=True)
class Budget:
    key: str
    value: float
    as_share: bool = False
    """params given as a share of the teacher's ('0.1x')."""
    text: str = ""

    def limit(self, teacher_params: int) -> float:
        return self.value * teacher_params if self.as_share else self.value


def parse_budget(text: str) -> Budget:
    """'params=12M', 'params=0.1x', 'speedup=3', 'retention=97'; a clear error for anything else."""
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or key not in BUDGET_KEYS:
        raise PolyglotError(f"budget {text!r}: expected KEY=VALUE with KEY one of {list(BUDGET_KEYS)}"
                            f"{did_you_mean(key, BUDGET_KEYS)}, e.g. params=12M, speedup=3, retention=97")
    m = _NUMBER.fullmatch(raw)
    unit = (m.group(2) or "") if m else ""
    if not m or (key != "params" and unit) or float(m.group(1)) <= 0:
        examples = {"params": "12M, 12000000 or 0.1x (of the teacher's)", "speedup": "3 (times the teacher's "
                    "sentences/s)", "retention": "97 (% of the teacher's retrieval)"}
        raise PolyglotError(f"budget {text!r}: {raw!r} is not a positive number for {key}; expected e.g. {examples[key]}")
    value = float(m.group(1)) * _SCALE.get(unit.lower(), 1.0)
    if key == "retention" and value > 100:
        raise PolyglotError(f"budget {text!r}: retention is a % of the teacher's score, at most 100")
    return Budget(key, value, unit == "x", text)


def selection_kept(row: dict, selection: str) -> float:
    return row.get(f"{selection} kept") or 0.0


def choose(table: dict, budget: Budget, selection: str) -> tuple[dict, str]:
    """The frontier point for `budget` and a sentence saying why; an error naming the closest point
    and what it misses when none meets the budget."""
    rows, teacher_params = table["points"], table["teacher_params"]

    def describe(r: dict) -> str:
        return (f"{r['point']} ({r['params'] / 1e6:.2f}M parameters, {r['param_ratio']:.3f}x the teacher, "
                f"{r['speedup']:.2f}x its speed, {100 * selection_kept(r, selection):.1f}% of its {selection} retrieval)")

    if budget.key == "params":
        limit = budget.limit(teacher_params)
        meets = [r for r in rows if r["params"] <= limit]
        closest = min(rows, key=lambda r: r["params"])
        miss = f"{closest['params'] / 1e6:.2f}M parameters, above the {limit / 1e6:.2f}M asked"
        rule = f"at most {limit / 1e6:.2f}M parameters"
    elif budget.key == "speedup":
        meets = [r for r in rows if r["speedup"] >= budget.value]
        closest = max(rows, key=lambda r: r["speedup"])
        miss = f"a {closest['speedup']:.2f}x speed-up, below the {budget.value:g}x asked"
        rule = f"at least {budget.value:g}x the teacher's speed"
    else:
        meets = [r for r in rows if 100 * selection_kept(r, selection) >= budget.value]
        closest = max(rows, key=lambda r: selection_kept(r, selection))
        miss = f"{100 * selection_kept(closest, selection):.1f}% of the teacher's {selection} retrieval, below the {budget.value:g}% asked"
        rule = f"at least {budget.value:g}% of the teacher's {selection} retrieval"
    if not meets:
        raise PolyglotError(f"budget {budget.text or budget.key}: no point of the {table['language']} frontier "
                            f"({len(rows)} points, {table['steps']} steps each) meets it; the closest is "
                            f"{describe(closest)}: {miss}. Add points with `polyglot-kd frontier "
                            f"{table['language']} --points ...` or relax the budget")
    if budget.key == "retention":
        best = min(meets, key=lambda r: (r["params"], -selection_kept(r, selection)))
        why = f"the fewest parameters among the {len(meets)} of {len(rows)} frontier points with {rule}"
    else:
        best = max(meets, key=lambda r: (selection_kept(r, selection), -r["params"]))
        why = f"the best {selection} retention among the {len(meets)} of {len(rows)} frontier points with {rule}"
    return best, f"{describe(best)}: {why} (frontier of {table['steps']} steps per point)"


def shipped_frontier(code: str) -> Path | None:
    """A language's published frontier: the checkout's eval/frontier-<code>.json, or the same file
    installed as package data (`polyglot_kd.frontiers`)."""
    folder = shipped_folder("eval", "polyglot_kd.frontiers")
    return folder / f"frontier-{code}.json" if folder else None


def find_frontier(build_frontier: Path, code: str) -> Path | None:
    for path in (build_frontier, shipped_frontier(code)):
        if path is not None and path.is_file():
            return path
    return None


def read_frontier(path: Path) -> dict:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        table["points"], table["teacher_params"]  # noqa: B018  the keys a choice needs
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PolyglotError(f"frontier file {path} is not a frontier table ({exc}); delete it or rerun "
                            "`polyglot-kd frontier`") from None
    return table


def budget_config(config, workdir: Path, budget: Budget, compute_points: str | None = None, steps: int = 200):
    """`config` with the distill shape of the frontier point that `budget` picks (the frontier is
    computed first when neither the build nor `eval/` has one for this language)."""
    from polyglot_kd.pipeline import build, frontier

    built = build.language_root(workdir, config.code) / frontier.FRONTIER_DIR / frontier.FRONTIER_JSON
    path = find_frontier(built, config.code)
    if path is None:
        log.info("no frontier for %s yet: computing it (%s steps per point)", config.code, steps)
        frontier.run_frontier(config, workdir, compute_points or frontier.DEFAULT_POINTS, steps)
        path = built
    table = read_frontier(path)
    if table.get("language") != config.code:
        raise PolyglotError(f"frontier file {path} is for {table.get('language')!r}, not {config.code!r}")
    row, why = choose(table, budget, table.get("selection", frontier.SELECTION_SET))
    point = frontier.point_of(row)
    log.info("budget %s: %s", budget.text, why)
    distill = dataclasses.replace(config.distill, **point.distill_settings(),
                                  chosen_by=f"budget {budget.text}: {why}; from {path.name}")
    stack = dataclasses.replace(config.stack, backbone="distill") if point.stacked else config.stack
    return dataclasses.replace(config, distill=distill, stack=stack), point, why


def stages_for(point, stages: list[str]) -> list[str]:
    """The build stages a budget point needs: an +ofa point its embed-init stage (before distill), a
    stacked one its stack stage (after it); the others as given."""
    out = list(stages)
    if getattr(point, "ofa", False) and "embed-init" not in out:
        out.insert(out.index("distill"), "embed-init")
    if getattr(point, "stacked", False) and "stack" not in out:
        out.insert(out.index("distill") + 1, "stack")
    return out
