"""Distillation-loss ablation (BiStil phase 1): which losses make a student that retrieves well.

    python scripts/distill_loss_ablation.py pt --variant pooled      # one variant (resumable)
    python scripts/distill_loss_ablation.py pt --table               # Markdown table of the finished ones

The embedded teacher is a sentence-embedding model without an MLM head, so BiStil's own losses
(hidden states and attention of mapped layers) are compared with the pooled-embedding loss this
project adds, alone and together. Every variant is the same short run (6 bottom layers, 300 steps,
the same seed and schedule, dev retrieval on Acts every 100 steps) from the same trimmed model
(`builds/<lang>/trim`, linked), then the eval stage: held-out Gospels and UDHR. (Cosine instead of
MSE for the pooled loss is left out: on L2-normalised vectors the MSE is (1 - cosine) * 2 / width, the
same loss scaled, which Adam does not see when it is the only one.)
"""

from __future__ import annotations

import json
from pathlib import Path

from ablation import build_variant, manifest_metrics, parse_args, report_models, retrieval  # scripts/ablation.py

from polyglot_kd.config import load_language

VARIANTS = {  # name -> [distill] loss weights, all given so a change of defaults does not move a variant
    "pooled": {"pooled_weight": 1.0, "hidden_weight": 0.0, "attention_weight": 0.0},  # (+ the cross-lingual term)
    "hidden+attention": {"pooled_weight": 0.0, "hidden_weight": 1.0, "attention_weight": 1.0},  # BiStil's
    "pooled+hidden+attention": {"pooled_weight": 1.0, "hidden_weight": 1.0, "attention_weight": 1.0},  # the default
}
STEPS = 300
DISTILL = {"steps": STEPS, "time_budget_minutes": 0.0, "warmup_steps": 30, "eval_every": 100,
           "checkpoint_every": 1000}


def config_for(lang: str, variant: str):
    return load_language(lang, {"distill": {**DISTILL, **VARIANTS[variant]},
                                "eval": {"tasks": ["retrieval"], "baselines": []}})


def dev_curve(root: Path) -> dict[int, float]:
    """Step -> dev retrieval (Acts) in %, from the run's metrics log."""
    curve = {}
    for line in (root / "distill" / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "eval/dev_retrieval" in row:
            curve[row["step"]] = 100 * row["eval/dev_retrieval"]
    return curve


def table(lang: str, workdir: Path) -> str:
    steps = list(range(100, STEPS + 1, 100))
    rows = ["| losses | " + " | ".join(f"dev @{s}" for s in steps) + " | Bible | kept of teacher | UDHR | s/step |",
            "|---|" + "---|" * (len(steps) + 4)]
    for variant in VARIANTS:
        root = workdir / variant / lang
        models = report_models(root)
        if models is None:
            rows.append(f"| {variant} | not run |" + " |" * (len(steps) + 3))
            continue
        curve = dev_curve(root)
        training = manifest_metrics(root, "distill")["training"]
        kept = models["distill"]["retrieval"]["bible-test"]["mean"] / models["teacher"]["retrieval"]["bible-test"]["mean"]
        rows.append(f"| {variant} | " + " | ".join(f"{curve[s]:.1f}" if s in curve else "" for s in steps)
                    + f" | {retrieval(models, 'distill', 'bible-test')} | {100 * kept:.1f}% | "
                    f"{retrieval(models, 'distill', 'udhr')} | {training['train_seconds'] / training['steps']:.2f} |")
    return "\n".join(rows)


def main() -> None:
    args = parse_args(__doc__, VARIANTS, "builds/loss-ablation")
    if args.variant:
        build_variant(config_for(args.language, args.variant), args.workdir, args.variant, args.trim, ["distill", "eval"])
    if args.table:
        print(table(args.language, args.workdir))


if __name__ == "__main__":
    main()
