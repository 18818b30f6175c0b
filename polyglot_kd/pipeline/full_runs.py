"""Full runs in a frontier table: a build's distilled student, trained for all its steps, measured
the way the frontier measures its short runs and added to the table's `full_runs`.

A frontier ranks shapes after a few hundred steps; the ranking after a whole build can differ (a
student whose start is further from the teacher catches up with more steps). `build --budget` prefers
full runs of the steps it is about to train (`budget.choose`), so recorded builds correct the short
runs' guess.
"""

from __future__ import annotations

import logging
from pathlib import Path

from polyglot_kd.config import LanguageConfig
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.pipeline import build, frontier

log = logging.getLogger(__name__)


def build_point(manifest: dict) -> tuple[frontier.Point, int]:
    """The frontier point a finished distill stage trained, and how many steps it trained."""
    d = manifest["inputs"]["distill"]
    if manifest["inputs"].get("base_stage") != "trim" or d.get("layer_selection") != "bottom" or d.get("layers"):
        raise PolyglotError("only a student cut from the trimmed model's bottom layers is a frontier point; this "
                            f"build's distill stage has base {manifest['inputs'].get('base_stage')!r} and layer "
                            f"selection {d.get('layer_selection')!r} {d.get('layers') or ''}")
    trained, asked = manifest["metrics"]["training"]["steps"], d["steps"]
    if trained != asked:
        raise PolyglotError(f"the build's student trained {trained} of {asked} steps (time budget): not a full run")
    point = frontier.Point(d["student_layers"], d.get("hidden_size") or 0, d.get("embedding_rank") or 0,
                           ffn=d.get("ffn_size") or 0)
    return point, trained


def record(config: LanguageConfig, workdir: Path, table_path: Path) -> dict:
    """Measure the build's distilled student beside the teacher (the frontier's sets and speed check)
    and add it to the `full_runs` of the frontier table at `table_path`; returns its row."""
    from polyglot_kd.pipeline.frontier import read_frontier

    if not Path(table_path).is_file():
        raise PolyglotError(f"no frontier table at {table_path}: compute one first (polyglot-kd frontier "
                            f"{config.code}) or name a shipped one (eval/frontier-{config.code}.json)")
    table = read_frontier(table_path)
    if table.get("language") != config.code:
        raise PolyglotError(f"frontier file {table_path} is for {table.get('language')!r}, not {config.code!r}")
    the_build = build.Build(config, build.language_root(workdir, config.code))
    manifest = the_build.manifest("distill")
    if manifest is None:
        raise PolyglotError(f"no finished distill stage in {the_build.stage_dir('distill')}: build it first "
                            f"(polyglot-kd build {config.code} --stages trim,distill)")
    point, steps = build_point(manifest)
    row = frontier.yardstick(config).measure(point, the_build.model_dir("distill"))
    row |= {"steps": steps, "model": build.model_identity(manifest)}
    runs = [r for r in table.get("full_runs", []) if (r["point"], r["steps"]) != (row["point"], steps)]
    table["full_runs"] = sorted(runs + [row], key=lambda r: (r["steps"], r["point"]))
    frontier.write_table(table, table_path)
    log.info("frontier %s: %s trained in full (%d steps) recorded in %s", config.code, point.name, steps, table_path)
    return row
