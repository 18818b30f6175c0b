"""Embedding-initialisation ablation: each method (and rank) -> embed-init -> the same short distillation -> eval.

    python scripts/embed_init_ablation.py sw --variant ofa-r100     # one variant (resumable: finished stages skip)
    python scripts/embed_init_ablation.py sw --table                # the Markdown table of every finished variant

Each variant builds in `<workdir>/<variant>/<lang>/` beside a link to the language's trimmed model
(`builds/<lang>/trim`, built first with `polyglot-kd build LANG --stages trim`). Retrieval is the
eval stage's: held-out Gospels (1,000 verses) and UDHR, mean of en->X and X->en.
"""

from __future__ import annotations

from pathlib import Path

from ablation import build_variant, manifest_metrics, parse_args, report_models, retrieval  # scripts/ablation.py

from polyglot_kd.config import load_language

VARIANTS = {  # name -> (embed_init overrides, or None for no embed-init: the student cut from trim)
    "ofa-r100": {"method": "ofa", "rank": 100},
    "focus-r100": {"method": "focus", "rank": 100},
    "mean-r100": {"method": "mean", "rank": 100},
    "random-r100": {"method": "random", "rank": 100},
    "ofa-r200": {"method": "ofa", "rank": 200},
    "ofa-full": {"method": "ofa", "rank": 0},
    "trim-only": None,
}
# the sentence-level loss alone for every variant (as measured): embed-init students cannot use the
# token-level ones, so trim-only does without them too
DISTILL = {"steps": 120, "time_budget_minutes": 0.0, "warmup_steps": 20, "eval_every": 0, "checkpoint_every": 1000,
           "hidden_weight": 0.0, "attention_weight": 0.0}


def config_for(lang: str, variant: str):
    overrides = {"distill": DISTILL, "eval": {"tasks": ["retrieval"], "baselines": []}}
    if VARIANTS[variant] is not None:
        overrides["embed_init"] = VARIANTS[variant]
    return load_language(lang, overrides)


def run_variant(lang: str, variant: str, workdir: Path, trim: Path) -> None:
    stages = ["distill", "eval"] if VARIANTS[variant] is None else ["embed-init", "distill", "eval"]
    build_variant(config_for(lang, variant), workdir, variant, trim, stages)


def table(lang: str, workdir: Path) -> str:
    rows = ["| variant | embedding params | model params | Bible before | UDHR before | Bible after | UDHR after "
            "| distill s |", "|---|---|---|---|---|---|---|---|"]
    teacher = None
    for variant in VARIANTS:
        root = workdir / variant / lang
        models = report_models(root)
        if models is None:
            rows.append(f"| {variant} | not run | | | | | | |")
            continue
        teacher = models
        start = "embed-init" if "embed-init" in models else "trim"
        init = manifest_metrics(root, start)
        emb = init.get("embedding_params", init.get("params_after"))
        distill = manifest_metrics(root, "distill")
        emb_text = f"{emb / 1e6:.2f}M" if start == "embed-init" else "(trim: 19,029 x 384)"
        rows.append(f"| {variant} | {emb_text} | {models[start]['params'] / 1e6:.2f}M | "
                    f"{retrieval(models, start, 'bible-test')} | {retrieval(models, start, 'udhr')} | "
                    f"{retrieval(models, 'distill', 'bible-test')} | {retrieval(models, 'distill', 'udhr')} | "
                    f"{distill['training']['seconds']:.0f} |")
    if teacher is not None:
        rows.append(f"\nteacher: Bible {retrieval(teacher, 'teacher', 'bible-test')}, UDHR "
                    f"{retrieval(teacher, 'teacher', 'udhr')}; trim: Bible {retrieval(teacher, 'trim', 'bible-test')}, "
                    f"UDHR {retrieval(teacher, 'trim', 'udhr')}")
    return "\n".join(rows)


def cut_scores(lang: str, workdir: Path, layers: int = 6) -> str:
    """Held-out Gospel retrieval of the student as cut (bottom `layers` layers) before any distillation:
    where the short distillation starts from."""
    from polyglot_kd.data import bible
    from polyglot_kd.core.pooling import encode
    from polyglot_kd.core.loading import load_encoder, load_tokenizer
    from polyglot_kd.methods.bistil.student import make_student
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
    args = parse_args(__doc__, VARIANTS, "builds/ablation", lambda parser: parser.add_argument(
        "--cut-scores", action="store_true", help="retrieval of each variant's 6-layer student before distillation"))
    if args.variant:
        run_variant(args.language, args.variant, args.workdir, args.trim)
    if args.table:
        print(table(args.language, args.workdir))
    if args.cut_scores:
        print(cut_scores(args.language, args.workdir))


if __name__ == "__main__":
    main()
