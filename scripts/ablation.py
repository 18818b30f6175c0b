"""What the ablation scripts share: each variant builds beside a link to the language's trimmed model,
and its figures come from the eval stage's report and the stages' manifests."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's polyglot_kd, not an installed one

from polyglot_kd.pipeline.build import run_build  # noqa: E402


def build_variant(config, workdir: Path, variant: str, trim: Path, stages: list[str]) -> Path:
    """Build `stages` of `config` in `<workdir>/<variant>/<lang>/`, its trim stage a link to `trim`
    (so the variants share one trimmed model and differ only in what comes after)."""
    root = workdir / variant / config.code
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "trim").exists():
        (root / "trim").symlink_to(trim.resolve(), target_is_directory=True)
    run_build(config, workdir / variant, stages)
    return root


def report_models(root: Path) -> dict | None:
    """The eval report's models of a variant's build, or None before its eval stage ran."""
    path = root / "eval" / "report.json"
    return json.loads(path.read_text())["models"] if path.is_file() else None


def retrieval(models: dict, model: str, dataset: str) -> str:
    """Mean of both directions in %, one decimal."""
    return f"{100 * models[model]['retrieval'][dataset]['mean']:.1f}"


def manifest_metrics(root: Path, stage: str) -> dict:
    return json.loads((root / stage / "manifest.json").read_text())["metrics"]


def parse_args(doc: str, variants, default_workdir: str, extra=None) -> argparse.Namespace:
    """The ablation scripts' command line: LANG, --variant (one to build), --table, --workdir, --trim;
    `extra(parser)` adds a script's own options. Also turns on INFO logging."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("language")
    parser.add_argument("--variant", choices=list(variants), help="build this variant (finished stages skip)")
    parser.add_argument("--table", action="store_true", help="print the Markdown table of the finished variants")
    parser.add_argument("--workdir", type=Path, default=Path(default_workdir))
    parser.add_argument("--trim", type=Path, help="trimmed build stage (default: builds/<lang>/trim)")
    if extra:
        extra(parser)
    args = parser.parse_args()
    args.trim = args.trim or Path("builds") / args.language / "trim"
    if args.variant and not (args.trim / "manifest.json").is_file():
        parser.error(f"--trim {args.trim}: expected a finished trim stage (with manifest.json); "
                     f"build it first: polyglot-kd build {args.language} --stages trim")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    return args
