"""Build to a budget: pick a student shape from the language's frontier, then train it fully.

`params=12M` (at most this many parameters; `0.1x` is a share of the teacher's), `speedup=3` (at
least this encoding speed-up over the teacher, measured side by side) or `retention=97` (at least this
% of the teacher's retrieval, then the fewest parameters), or several at once (`params=12M,speedup=3`:
a point must meet them all). Among the points that meet the budget the
one keeping most of the teacher's retrieval on the selection set wins (dev verses: the test sets the
reports quote never choose a model). The frontier is read from the build, else from the shipped result
files under `eval/`, else computed. Students recorded there as trained in full (`full_runs`) decide
instead of the short runs when the short runs' choice is among them (see `choose`).
"""

from __future__ import annotations

import dataclasses
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


def parse_budgets(text: str) -> list[Budget]:
    """'params=12M' or several at once, 'params=12M,speedup=3' (a point must meet them all); each key once."""
    budgets = [parse_budget(part) for part in text.split(",") if part.strip()]
    keys = [b.key for b in budgets]
    if not budgets or len(set(keys)) != len(keys):
        raise PolyglotError(f"budget {text!r}: expected one or more KEY=VALUE separated by commas, each key once "
                            f"(e.g. params=12M,speedup=3)")
    return budgets


def selection_kept(row: dict, selection: str) -> float:
    return row.get(f"{selection} kept") or 0.0


@dataclasses.dataclass(frozen=True)
class _Rule:
    """One budget as a test on a frontier row, with words for what it asks and what a row misses."""

    meets: object  # row -> bool
    share: object  # row -> what it reaches as a share of what is asked (>= 1 when met), to compare misses
    miss: object  # row -> str
    words: str


def _rule(budget: Budget, teacher_params: int, selection: str) -> _Rule:
    if budget.key == "params":
        limit = budget.limit(teacher_params)
        return _Rule(lambda r: r["params"] <= limit, lambda r: limit / r["params"],
                     lambda r: f"{r['params'] / 1e6:.2f}M parameters, above the {limit / 1e6:.2f}M asked",
                     f"at most {limit / 1e6:.2f}M parameters")
    if budget.key == "speedup":
        return _Rule(lambda r: r["speedup"] >= budget.value, lambda r: r["speedup"] / budget.value,
                     lambda r: f"a {r['speedup']:.2f}x speed-up, below the {budget.value:g}x asked",
                     f"at least {budget.value:g}x the teacher's speed")
    return _Rule(lambda r: 100 * selection_kept(r, selection) >= budget.value,
                 lambda r: 100 * selection_kept(r, selection) / budget.value,
                 lambda r: f"{100 * selection_kept(r, selection):.1f}% of the teacher's {selection} retrieval, "
                           f"below the {budget.value:g}% asked",
                 f"at least {budget.value:g}% of the teacher's {selection} retrieval")


def _as_list(budgets: Budget | list[Budget]) -> list[Budget]:
    return [budgets] if isinstance(budgets, Budget) else list(budgets)


def choose(table: dict, budgets: Budget | list[Budget], selection: str, steps: int | None = None) -> tuple[dict, str]:
    """The frontier point that meets every budget, and a sentence saying why; an error naming the
    closest point and what it misses when none meets them all.

    A table's `full_runs` (students trained for a whole build's steps, `polyglot-kd frontier --record`)
    are better evidence than its short runs. Full runs of `steps` steps decide when the short runs'
    choice was trained in full too (it can lose there), or when no short run meets the budget (a
    retention budget few short runs reach); otherwise an unrecorded shape could be the better one."""
    budgets = _as_list(budgets)
    rules = [_rule(b, table["teacher_params"], selection) for b in budgets]
    full = [r for r in table.get("full_runs", []) if steps is not None and r.get("steps") == steps]
    full_meets = [r for r in full if all(rule.meets(r) for rule in rules)]
    rows = table["points"]
    meets = [r for r in rows if all(rule.meets(r) for rule in rules)]
    if meets:
        best, why = _pick(meets, len(rows), rules, budgets, selection, "frontier points",
                          f" (frontier of {table['steps']} steps per point)")
        if not (full_meets and best["point"] in {r["point"] for r in full}):
            return best, why
    if full_meets:
        best, why = _pick(full_meets, len(full), rules, budgets, selection, f"frontier points trained in full ({steps} steps)")
        return best, f"{why}, recorded beside the {table['steps']}-step frontier"

    def nearness(r):  # meets the most budgets, then falls least short on the worst one it misses
        missed = [rule for rule in rules if not rule.meets(r)]
        return (-len(missed), min(rule.share(r) for rule in missed))
    closest = max(rows, key=nearness)
    missed = "; ".join(rule.miss(closest) for rule in rules if not rule.meets(closest))
    asked = " and ".join(b.text or b.key for b in budgets)
    raise PolyglotError(f"budget {asked}: no point of the {table['language']} frontier "
                        f"({len(rows)} points, {table['steps']} steps each) meets it; the closest is "
                        f"{_describe(closest, selection)}: {missed}. Add points with `polyglot-kd frontier "
                        f"{table['language']} --points ...` or relax the budget")


def _describe(r: dict, selection: str) -> str:
    return (f"{r['point']} ({r['params'] / 1e6:.2f}M parameters, {r['param_ratio']:.3f}x the teacher, "
            f"{r['speedup']:.2f}x its speed, {100 * selection_kept(r, selection):.1f}% of its {selection} retrieval)")


def _pick(meets: list[dict], out_of: int, rules: list[_Rule], budgets: list[Budget], selection: str, what: str,
          suffix: str = "") -> tuple[dict, str]:
    """Of the rows `meets` (those of `out_of` that meet every rule): the fewest parameters for a
    retention budget, else the best retention."""
    rule = " and ".join(r.words for r in rules)
    if any(b.key == "retention" for b in budgets):
        best = min(meets, key=lambda r: (r["params"], -selection_kept(r, selection)))
        why = f"the fewest parameters among the {len(meets)} of {out_of} {what} with {rule}"
    else:
        best = max(meets, key=lambda r: (selection_kept(r, selection), -r["params"]))
        why = f"the best {selection} retention among the {len(meets)} of {out_of} {what} with {rule}"
    return best, f"{_describe(best, selection)}: {why}{suffix}"


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


def budget_config(config, workdir: Path, budget: Budget | list[Budget], compute_points: str | None = None,
                  steps: int = 200):
    """`config` with the distill shape of the frontier point that `budget` (one or several) picks (the
    frontier is computed first when neither the build nor `eval/` has one for this language)."""
    from polyglot_kd.pipeline import build, frontier
    from polyglot_kd.pipeline.frontier import read_frontier

    built = build.language_root(workdir, config.code) / frontier.FRONTIER_DIR / frontier.FRONTIER_JSON
    path = find_frontier(built, config.code)
    if path is None:
        log.info("no frontier for %s yet: computing it (%s steps per point)", config.code, steps)
        frontier.run_frontier(config, workdir, compute_points or frontier.DEFAULT_POINTS, steps)
        path = built
    table = read_frontier(path)
    if table.get("language") != config.code:
        raise PolyglotError(f"frontier file {path} is for {table.get('language')!r}, not {config.code!r}")
    row, why = choose(table, budget, table.get("selection", frontier.SELECTION_SET), config.distill.steps)
    point = frontier.point_of(row)
    text = ",".join(b.text for b in _as_list(budget))
    log.info("budget %s: %s", text, why)
    distill = dataclasses.replace(config.distill, **point.distill_settings(),
                                  chosen_by=f"budget {text}: {why}; from {path.name}")
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
