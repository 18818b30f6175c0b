"""Embedding-initialisation ablation: each method (and rank) -> embed-init -> the same short distillation -> eval.

    python scripts/embed_init_ablation.py sw --variant ofa-r100     # one variant (resumable: finished stages skip)
    python scripts/embed_init_ablation.py sw --table                # the Markdown table of every finished variant

Each variant builds in `<workdir>/<variant>/<lang>/` beside a link to the language's trimmed model
(`builds/<lang>/trim`, built first with `polyglot-kd build LANG --stages trim`). Retrieval is the
eval stage's: held-out Gospels (1,000 verses) and UDHR, mean of en->X and X->en.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's polyglot_kd, not an installed one

from polyglot_kd.build import run_build  # noqa: E402
from polyglot_kd.config import load_language  # noqa: E402

VARIANTS = {  # name -> (embed_init overrides, or None for no embed-init: the student cut from trim)
    "ofa-r100": {"method": "ofa", "rank": 100},
    "focus-r100": {"method": "focus", "rank": 100},
    "mean-r100": {"method": "mean", "rank": 100},
    "random-r100": {"method": "random", "rank": 100},
    "ofa-r200": {"method": "ofa", "rank": 200},
    "ofa-full": {"method": "ofa", "rank": 0},
    "trim-only": None,
}
DISTILL = {"steps": 120, "warmup_steps": 20, "eval_every": 0, "checkpoint_every": 1000}


def config_for(lang: str, variant: str):
    overrides = {"distill": DISTILL, "eval": {"tasks": ["retrieval"], "baselines": []}}
    if VARIANTS[variant] is not None:
        overrides["embed_init"] = VARIANTS[variant]
    return load_language(lang, overrides)


def run_variant(lang: str, variant: str, workdir: Path, trim: Path) -> None:
    root = workdir / variant / lang
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "trim").exists():
        (root / "trim").symlink_to(trim.resolve(), target_is_directory=True)
    stages = ["distill", "eval"] if VARIANTS[variant] is None else ["embed-init", "distill", "eval"]
    run_build(config_for(lang, variant), workdir / variant, stages)


def table(lang: str, workdir: Path) -> str:
    rows = ["| variant | embedding params | model params | Bible before | UDHR before | Bible after | UDHR after "
            "| distill s |", "|---|---|---|---|---|---|---|---|"]
    for variant in VARIANTS:
        root = workdir / variant / lang
        report_path = root / "eval" / "report.json"
        if not report_path.is_file():
            rows.append(f"| {variant} | not run | | | | | | |")
            continue
        models = json.loads(report_path.read_text())["models"]
        start = "embed-init" if "embed-init" in models else "trim"
        init = json.loads((root / start / "manifest.json").read_text())["metrics"]
        emb = init.get("embedding_params", init.get("params_after"))
        distill = json.loads((root / "distill" / "manifest.json").read_text())["metrics"]

        def score(model, ds):
            return f"{100 * models[model]['retrieval'][ds]['mean']:.1f}"

        emb_text = f"{emb / 1e6:.2f}M" if start == "embed-init" else "(trim: 19,029 x 384)"
        rows.append(f"| {variant} | {emb_text} | {models[start]['params'] / 1e6:.2f}M | {score(start, 'bible-test')} | "
                    f"{score(start, 'udhr')} | {score('distill', 'bible-test')} | {score('distill', 'udhr')} | "
                    f"{distill['training']['seconds']:.0f} |")
    reports = [workdir / v / lang / "eval" / "report.json" for v in VARIANTS]
    reports = [p for p in reports if p.is_file()]
    if not reports:
        return "\n".join(rows)
    teacher = json.loads(reports[0].read_text())["models"]
    rows.append(f"\nteacher: Bible {100 * teacher['teacher']['retrieval']['bible-test']['mean']:.1f}, UDHR "
                f"{100 * teacher['teacher']['retrieval']['udhr']['mean']:.1f}; trim: Bible "
                f"{100 * teacher['trim']['retrieval']['bible-test']['mean']:.1f}, UDHR "
                f"{100 * teacher['trim']['retrieval']['udhr']['mean']:.1f}")
    return "\n".join(rows)


def cut_scores(lang: str, workdir: Path, layers: int = 6) -> str:
    """Held-out Gospel retrieval of the student as cut (bottom `layers` layers) before any distillation:
    where the short distillation starts from."""
    from polyglot_kd.data import bible
    from polyglot_kd.embed import encode
    from polyglot_kd.modeling import load_encoder, load_tokenizer
    from polyglot_kd.student import make_student
    from polyglot_kd.tasks.retrieval import accuracy

    config = config_for(lang, "trim-only")
    test = bible.parallel(config.corpus.source_bible, config.corpus.bible, "test", config.eval.max_items)
    rows = [f"| variant | {layers}-layer cut, before distillation: Bible |", "|---|---|"]
    for variant in VARIANTS:
        stage = "trim" if VARIANTS[variant] is None else "embed-init"
        path = workdir / variant / lang / stage / "model"
        if not (path.parent / "manifest.json").is_file():
            continue
        model = make_student(load_encoder(path), list(range(layers))).model
        tok = load_tokenizer(path)
        score = accuracy(encode(model, tok, test.source), encode(model, tok, test.target))["mean"]
        rows.append(f"| {variant} | {100 * score:.1f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("language")
    parser.add_argument("--variant", choices=list(VARIANTS))
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--cut-scores", action="store_true", help="retrieval of each variant's 6-layer student "
                        "before distillation")
    parser.add_argument("--workdir", type=Path, default=Path("builds/ablation"))
    parser.add_argument("--trim", type=Path, help="trimmed build stage (default: builds/<lang>/trim)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.variant:
        run_variant(args.language, args.variant, args.workdir, args.trim or Path("builds") / args.language / "trim")
    if args.table:
        print(table(args.language, args.workdir))
    if args.cut_scores:
        print(cut_scores(args.language, args.workdir))


if __name__ == "__main__":
    main()
