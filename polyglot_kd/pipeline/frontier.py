"""The size/speed frontier of a language: a grid of students, each trained for the same short, fixed
number of steps, measured side by side (retention of the teacher's retrieval, parameters, encoding
speed against the teacher) with the Pareto points marked.

Each point is a distill stage of its own under `builds/<lang>/frontier/<point>/` (the trimmed model
is shared through a link), so an interrupted frontier resumes and a finished point is neither
retrained nor re-measured (its row is kept in `point.json`, tied to the model it measured). A point
written with `+mt` also stacks the MT encoder under its student (the stack stage, as many steps), and
is measured on the route a target sentence takes: MT encoder, then the student's layers. Speeds are
ratios to the teacher measured in the same run as the point. A point written with `fFFN` keeps that
many feed-forward neurons per layer (`methods/bistil/ffn.py`). A point written with `+ofa` starts its
student from the embed-init model (`[embed_init]`: a language-specific tokenizer, OFA-initialised and
factorised embeddings, warmed up), built once for all such points in `frontier/_embed-init/`, so the
plain build is unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

from polyglot_kd.config import LanguageConfig
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.files import write_json_atomic, write_text_atomic
from polyglot_kd.pipeline import build
from polyglot_kd.pipeline.lock import build_lock

log = logging.getLogger(__name__)

FRONTIER_DIR = "frontier"
FRONTIER_JSON, FRONTIER_MD, FRONTIER_PNG = "frontier.json", "frontier.md", "frontier.png"
OFA_DIR = "_embed-init"
"""The embed-init model the +ofa points share (built once per frontier, beside the points)."""
POINT_JSON = "point.json"
"""A point's measured row beside its distill stage, so a rerun re-measures only new or retrained points."""
DEFAULT_POINTS = "6x384,4x384,6x384r64,5x384r96,4x384r128,5x384f768r240,6x384f512r192,6x288r96"
POINT = re.compile(r"(\d+)(?:x(\d+))?(?:f(\d+))?(?:r(\d+))?(\+ofa)?(\+mt)?")
SELECTION_SET = "bible-dev"
"""The set a budget picks by (the dev set: held out from training, but not a test set the table
reports); a frontier of a user's corpus names its own in the table's `selection`."""


@dataclasses.dataclass(frozen=True)
class Point:
    layers: int
    width: int = 0
    """0: the teacher's width."""
    rank: int = 0
    """Rank of the factorised word embedding; 0: the full matrix."""
    stacked: bool = False
    """The MT encoder stacked under the student (`[stack]`, backbone: this point's student)."""
    ofa: bool = False
    """The student starts from the embed-init model (its own tokenizer and factorised embedding)."""
    ffn: int = 0
    """Inner size of the student's feed-forward blocks; 0: the teacher's."""

    @property
    def name(self) -> str:
        return (f"L{self.layers}-W{self.width or 'full'}" + (f"-f{self.ffn}" if self.ffn else "")
                + (f"-r{self.rank}" if self.rank else "")
                + ("-ofa" if self.ofa else "") + ("-mt" if self.stacked else ""))

    def distill_settings(self) -> dict:
        """The `[distill]` fields that make this student."""
        return {"student_layers": self.layers, "layer_selection": "bottom", "layers": [],
                "hidden_size": self.width, "embedding_rank": self.rank, "ffn_size": self.ffn}


def parse_points(text: str, teacher_layers: int, teacher_width: int, heads: int, width_init: str = "svd",
                 teacher_ffn: int | None = None) -> list[Point]:
    """'6x384,4x192,5x384f768r192,5x384+ofa,5x384r96+mt' (layers x width, then an optional FFN inner size
    and embedding rank,
    '+ofa' for a student cut from the embed-init model and '+mt' for the MT encoder stacked under the
    student; a bare '6' keeps the teacher's width), every problem at once."""
    from polyglot_kd.methods.bistil.ffn import ffn_problem
    from polyglot_kd.methods.bistil.student import width_problem, width_rule

    points, problems = [], []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = POINT.fullmatch(part)
        if not m:
            problems.append(f"{part!r} is not LAYERSxWIDTH[fFFN][rRANK][+ofa][+mt], e.g. 6x384, 4x384r128, "
                            "5x384f768r192, 5x384+ofa or 5x384r96+mt")
            continue
        layers, width, ffn, rank = (int(m.group(i) or 0) for i in (1, 2, 3, 4))
        if not 1 <= layers <= teacher_layers:
            problems.append(f"{part!r}: {layers} layers; the teacher has {teacher_layers}")
        if width and width_problem(width, teacher_width, heads, width_init):
            problems.append(f"{part!r}: width {width} must be {width_rule(teacher_width, heads, width_init)}")
        if rank and not 1 <= rank <= (width or teacher_width):
            problems.append(f"{part!r}: embedding rank {rank} is above the width {width or teacher_width}")
        if m.group(3) and (ffn < 1 or ffn_problem(ffn, teacher_ffn)):
            problems.append(f"{part!r}: FFN size {ffn}: expected 1..{teacher_ffn or 'the teacher inner size'}")
        ofa = bool(m.group(5))
        if ofa and (rank or (width and width != teacher_width)):
            problems.append(f"{part!r}: an +ofa student keeps the embed-init model's width and factorised embedding "
                            "(its rank is [embed_init] rank); give layers only, e.g. 5x384+ofa")
        points.append(Point(layers, 0 if width == teacher_width else width, rank, bool(m.group(6)), ofa,
                            0 if ffn == teacher_ffn else ffn))
    if problems or not points:
        raise PolyglotError("frontier points: " + ("; ".join(problems) or "none given"))
    return list(dict.fromkeys(points))


def run_frontier(config: LanguageConfig, workdir: Path, points_text: str = DEFAULT_POINTS, steps: int = 200,
                 speed_sentences: int = 256) -> dict:
    """Train and measure every point; write frontier.json / .md / .png; returns the table."""
    from transformers import AutoConfig

    from polyglot_kd.sources.teacher import resolve_teacher

    teacher_dir = resolve_teacher(config.teacher)
    tc = AutoConfig.from_pretrained(teacher_dir)
    points = parse_points(points_text, tc.num_hidden_layers, tc.hidden_size, tc.num_attention_heads,
                          config.distill.width_init, getattr(tc, "intermediate_size", None))
    if steps < 1:
        raise PolyglotError(f"frontier steps: {steps} must be >= 1")
    if any(p.stacked for p in points):
        from polyglot_kd.methods.stacking.mt_encoders import spec_problems

        if problems := spec_problems(config.stack.mt_encoder, config.code):
            raise PolyglotError("frontier points with +mt: " + "; ".join(problems))
    build.run_build(config, workdir, ["trim"])
    root = build.language_root(workdir, config.code)
    out = root / FRONTIER_DIR
    ruler = yardstick(config, speed_sentences)
    teacher = ruler.teacher
    rows = []
    with build_lock(root):  # the points share the build's trimmed model
        for point in points:
            model_dir = _train_point(config, out / point.name, point, steps)
            stage = "stack" if point.stacked else "distill"
            identity = build.model_identity(build.Build(config, out / point.name).manifest(stage))
            row = _measured(out / point.name, identity, list(teacher["retrieval"]))
            if row is None:
                row = ruler.measure(point, model_dir)
                write_json_atomic(out / point.name / POINT_JSON, {"model": identity, "row": row})
            rows.append(row)
            log.info("frontier %s: %s", point.name, row)
    _mark_pareto(rows, next(iter(teacher["retrieval"])))
    table = {"language": config.code, "steps": steps, "teacher_params": teacher["params"], "selection": ruler.selection,
             "teacher": {d: s["mean"] for d, s in teacher["retrieval"].items()}, "points": rows}
    write_table(table, out / FRONTIER_JSON)
    return table


def write_table(table: dict, path: Path) -> None:
    """The table as JSON at `path`, with its Markdown rendering and its plot beside it (same stem)."""
    path = Path(path)
    write_json_atomic(path, table)
    write_text_atomic(path.with_suffix(".md"), render(table) + "\n")
    plot(table, path.with_suffix(".png"))


def read_frontier(path: Path) -> dict:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        table["points"], table["teacher_params"]  # noqa: B018  the keys a choice needs
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PolyglotError(f"frontier file {path} is not a frontier table ({exc}); delete it or rerun "
                            "`polyglot-kd frontier`") from None
    return table


def check_into(path: Path, code: str, steps: int) -> None:
    """Refuse a table that points of `code` trained for `steps` steps could not be added to."""
    if not Path(path).is_file():
        raise PolyglotError(f"no frontier table at {path} to add points to: compute one first (polyglot-kd frontier "
                            f"{code}, without --into) or name a shipped one (eval/frontier-{code}.json)")
    _check_comparable(read_frontier(path), code, steps, {}, str(path))


def add_into(path: Path, new: dict) -> dict:
    """The table at `path` with the points of `new` added (`merge`), written back with its .md and .png."""
    table = merge(read_frontier(path), new, str(path))
    write_table(table, path)
    return table


def merge(table: dict, new: dict, where: str = "the table") -> dict:
    """`table` with the points of `new` (the same language, steps and teacher scores) added, a point
    measured again replacing its old row in place; Pareto marks redone, full runs kept. Lets a shipped
    frontier grow point by point without retraining the points it has."""
    _check_comparable(table, new["language"], new["steps"], new["teacher"], where)
    fresh = {r["point"]: r for r in new["points"]}
    rows = [fresh.pop(r["point"], r) for r in table["points"]] + list(fresh.values())
    merged = {**table, "teacher": {**table["teacher"], **new["teacher"]}, "points": rows}
    _mark_pareto(rows, next(iter(merged["teacher"])))
    return merged


def _check_comparable(table: dict, language: str, steps: int, teacher: dict, where: str) -> None:
    """Points of `language` trained for `steps` steps, measured against `teacher`'s scores, belong in
    `table` only when it holds the same language and steps and scored the teacher alike."""
    if language != table.get("language") or steps != table.get("steps"):
        fix = "pass --steps to match it" if language == table.get("language") else f"name frontier-{language}.json"
        raise PolyglotError(f"{where} holds {table.get('language')!r} points of {table.get('steps')} steps; these are "
                            f"{language!r} points of {steps} steps: a table holds one language and one "
                            f"step count ({fix})")
    differ = [f"{name}: {100 * table['teacher'][name]:.2f} there, {100 * score:.2f} now"
              for name, score in teacher.items()
              if name in table["teacher"] and abs(table["teacher"][name] - score) > 1e-9]
    if differ:
        raise PolyglotError(f"{where} scored another teacher or other sentences ({'; '.join(differ)}): its points "
                            "and these cannot be compared; compute a new table instead")


@dataclasses.dataclass(frozen=True)
class Yardstick:
    """What every frontier row is measured against: the held-out sets and the dev set (the budget's
    selection), the teacher's scores on them, and the sentences the speed check encodes."""

    config: LanguageConfig
    teacher_dir: Path
    task_sets: list
    teacher: dict
    speed_texts: list[str]

    @property
    def selection(self) -> str:
        return self.task_sets[0][1][-1].name

    def measure(self, point: Point, model_dir: Path) -> dict:
        """The point's row: its scores and its speed-up, timed side by side with the teacher (a stacked
        point on the target's route: MT encoder, then the student)."""
        from polyglot_kd.pipeline.speed import side_by_side
        from polyglot_kd.pipeline.stages.evaluate import evaluate_model

        c = self.config
        scores = evaluate_model(model_dir, c, self.task_sets)
        speed = side_by_side(model_dir, self.teacher_dir, self.speed_texts, batch_size=c.eval.batch_size,
                             max_length=c.eval.max_length, rounds=2, prefix=c.eval.prefix, language=c.code)
        return row_of(point, scores, self.teacher, speed)


def yardstick(config: LanguageConfig, speed_sentences: int = 256) -> Yardstick:
    """Score the teacher on the frontier's sets, once for every point measured against it."""
    from polyglot_kd.data import corpora
    from polyglot_kd.pipeline.stages.evaluate import evaluate_model
    from polyglot_kd.sources.teacher import resolve_teacher
    from polyglot_kd.tasks import get_task

    retrieval = get_task("retrieval")
    held_out = retrieval.datasets(config)
    task_sets = [(retrieval, held_out + [corpora.dev_set(config, max_items=config.eval.max_items)])]
    teacher_dir = resolve_teacher(config.teacher)
    return Yardstick(config, teacher_dir, task_sets, evaluate_model(teacher_dir, config, task_sets),
                     list(held_out[0].target[:speed_sentences]))


def _measured(folder: Path, identity: str, sets: list[str]) -> dict | None:
    """The row measured before for this very model (same distill inputs and files) on the same sets, or None."""
    try:
        saved = json.loads((folder / POINT_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    row = saved.get("row") or {}
    return row if saved.get("model") == identity and all(d in row for d in sets) else None


def point_of(row: dict) -> Point:
    return Point(row["layers"], row.get("width") or 0, row.get("rank") or 0, bool(row.get("stacked")), bool(row.get("ofa")),
                 row.get("ffn") or 0)


def stack_settings(steps: int) -> dict:
    """The `[stack]` fields of a stacked point: under this point's student, as many steps as it distilled."""
    return {"backbone": "distill", "steps": steps, "max_minutes": 0.0, "checkpoint_every": max(1, steps // 4),
            "eval_every": 0}


def _link(folder: Path, name: str, target: Path) -> None:
    """`folder/name` -> `target` (relative), so a point's build reads a stage built elsewhere."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / name).exists():
        (folder / name).symlink_to(target, target_is_directory=True)


def _train_point(config: LanguageConfig, folder: Path, point: Point, steps: int) -> Path:
    _link(folder, "trim", Path("..") / ".." / "trim")
    d = dataclasses.replace(config.distill, **point.distill_settings(), steps=steps, time_budget_minutes=0.0,
                            eval_every=0, checkpoint_every=max(1, steps // 4))
    stack = dataclasses.replace(config.stack, **stack_settings(steps)) if point.stacked else config.stack
    point_build = build.Build(dataclasses.replace(config, distill=d, stack=stack), folder)
    if point.ofa:  # the student is cut from the frontier's one embed-init model
        shared = folder.parent / OFA_DIR
        _link(shared, "trim", Path("..") / ".." / "trim")
        build.run_stage(build.Build(config, shared), "embed-init")
        _link(folder, "embed-init", Path("..") / OFA_DIR / "embed-init")
    build.run_stage(point_build, "distill")
    if point.stacked:
        build.run_stage(point_build, "stack")
        return point_build.model_dir("stack")
    return point_build.model_dir("distill")


def row_of(point: Point, scores: dict, teacher: dict, speed) -> dict:
    row = {"point": point.name, "layers": point.layers, "width": point.width or None, "rank": point.rank or None,
           **({"ffn": point.ffn} if point.ffn else {}),
           **({"stacked": True} if point.stacked else {}), **({"ofa": True} if point.ofa else {}),
           "params": scores["params"],
           "param_ratio": scores["params"] / teacher["params"], "speedup": speed.speedup,
           "sentences_per_second": speed.model_per_second}
    for name, s in scores["retrieval"].items():
        reference = teacher["retrieval"][name]["mean"]
        row[name] = s["mean"]
        row[f"{name} kept"] = s["mean"] / reference if reference > 0 else None  # a teacher at 0 keeps nothing to share
    return row


def _mark_pareto(rows: list[dict], primary: str) -> None:
    """A point is on a frontier when no other point scores at least as well on `primary` (the first
    held-out set; the same order as its retention) at no greater cost, and better on one of the two.
    Costs: parameters, and slowness (minus the speed-up)."""
    for row in rows:
        others = [r for r in rows if r is not row]
        row["pareto_params"] = not _dominated(row, others, primary, lambda r: r["params"])
        row["pareto_speed"] = not _dominated(row, others, primary, lambda r: -r["speedup"])


def _dominated(row: dict, others: list[dict], score: str, cost) -> bool:
    return any(r[score] >= row[score] and cost(r) <= cost(row) and (r[score] > row[score] or cost(r) < cost(row))
               for r in others)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def render(table: dict) -> str:
    sets = list(table["teacher"])
    lines = [f"Frontier of {table['language']}: every point distilled for {table['steps']} steps; retrieval % "
             f"(teacher: " + ", ".join(f"{d} {100 * v:.1f}" for d, v in table["teacher"].items()) + ")", "",
             *_header(sets, "Pareto")]
    for r in table["points"]:
        marks = [m for m, key in (("size", "pareto_params"), ("speed", "pareto_speed")) if r[key]]
        lines.append(_line(r, sets, [", ".join(marks) or ""]))
    if full := table.get("full_runs"):
        lines += ["", "Trained in full (`polyglot-kd frontier --record`; `build --budget` prefers these at their steps):", "",
                  *_header(sets, "steps")]
        lines += [_line(r, sets, [str(r["steps"])]) for r in full]
    return "\n".join(lines)


def _header(sets: list[str], last: str) -> list[str]:
    head = ["point", "params", "x teacher", "speed-up"] + [f"{d} (kept)" for d in sets] + [last]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]


def _line(r: dict, sets: list[str], last: list[str]) -> str:
    return "| " + " | ".join([r["point"], f"{r['params'] / 1e6:.2f}M", f"{r['param_ratio']:.3f}", f"{r['speedup']:.2f}x"]
                             + [f"{100 * r[d]:.1f} ({_pct(r.get(f'{d} kept'))})" if d in r else "n/a" for d in sets]
                             + last) + " |"


def plot(table: dict, path: Path) -> None:
    """Retention against parameters (left) and against measured speed-up (right), Pareto points filled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table["points"]
    primary = next(iter(table["teacher"]))
    kept = f"{primary} kept"
    y, ylabel = ((kept, f"{kept} (% of teacher)") if all(r[kept] is not None for r in rows)
                 else (primary, f"{primary} retrieval (%)"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    full = [r for r in table.get("full_runs", []) if r.get(y) is not None]
    for ax, x, label, flag in ((axes[0], "param_ratio", "parameters (x teacher)", "pareto_params"),
                               (axes[1], "speedup", "encoding speed-up vs teacher (side by side)", "pareto_speed")):
        for r in rows:
            ax.scatter(r[x], 100 * r[y], s=50, facecolors="C0" if r[flag] else "none", edgecolors="C0")
            ax.annotate(r["point"], (r[x], 100 * r[y]), textcoords="offset points", xytext=(4, 4), fontsize=8)
        for i, r in enumerate(full):  # the same shapes trained for a whole build: how far the short runs' guess moves
            ax.scatter(r[x], 100 * r[y], s=90, marker="*", color="C3")
            ax.annotate(f"{r['point']}, {r['steps']} steps", (r[x], 100 * r[y]), textcoords="offset points",
                        xytext=(4, -10 - 10 * i), fontsize=8, color="C3")  # stacked: runs of one shape overlap
        ax.set(xlabel=label, ylabel=ylabel)
        ax.margins(x=0.3, y=0.1)  # room for the labels right of the outermost points
        ax.grid(alpha=0.3)
    trained = "; stars: trained in full" if full else ""
    fig.suptitle(f"{table['language']}: students after {table['steps']} distillation steps (filled: Pareto{trained})")
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")  # renamed when complete, like the JSON beside it
    fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    tmp.replace(path)

