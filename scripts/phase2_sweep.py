"""BiStil phase 2 on a build's distilled student: lt-sft-kd settings side by side with plain LT-SFT of
the same student, each over the same seeds, on the suite's POS task (English training, English-dev
selection, target test).

    python scripts/phase2_sweep.py tr --workdir builds --seeds 1,2,3

Prints one row per setting (mean ± std over the seeds per test language) and writes them to
<workdir>/<lang>/tasks/phase2-sweep.json. Seeds already run are cached, so a rerun only trains what is
missing. The default setting runs last, so the build's result file for lt-sft-kd is the default's.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's polyglot_kd, not an installed one

from polyglot_kd.config import load_language  # noqa: E402
from polyglot_kd.core.files import write_json_atomic  # noqa: E402
from polyglot_kd.pipeline.task_suite import resolve_target, run_eval  # noqa: E402
from polyglot_kd.tasks import get_task  # noqa: E402

# key -> (what it is, [distill] overrides, [finetune] overrides). Each setting names every loss weight it
# departs from, so a row means the same thing whatever DistillConfig's defaults become; "default" last.
BISTIL = {"task_hard_weight": 0.0}  # BiStil's phase 2: soft targets + hidden + attention, no gold labels
SETTINGS = {
    "bistil": ("BiStil's: T = 2, soft targets + hidden + attention terms, no gold labels", BISTIL, {}),
    "T1": ("BiStil's with T = 1", BISTIL | {"task_temperature": 1.0}, {}),
    "soft-only": ("soft targets alone (no gold labels, no hidden/attention terms)",
                  BISTIL | {"task_hidden_weight": 0.0, "task_attention_weight": 0.0}, {}),
    "gold-T1": ("the default with T = 1", {"task_temperature": 1.0}, {}),
    "gold-T4": ("the default with T = 4", {"task_temperature": 4.0}, {}),
    "no-layers": ("the default without the hidden/attention terms",
                  {"task_hidden_weight": 0.0, "task_attention_weight": 0.0}, {}),
    "density": ("the default at density 0.2", {}, {"density": 0.2}),
    "default": ("the default: T = 2, soft targets + gold labels + hidden + attention terms, density 0.08", {}, {}),
}

def summarise(records: list[dict]) -> dict:
    return {r["language"]: {"mean": r["mean"], "std": r["std"]} for r in records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("language")
    parser.add_argument("--workdir", type=Path, default=Path("builds"))
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--languages", default="tr,id", help="test languages (default: tr,id)")
    parser.add_argument("--only", help=f"comma-separated settings to run, of {', '.join(SETTINGS)} (default: all)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    seeds = [int(s) for s in args.seeds.split(",")]
    languages = args.languages.split(",")
    pos = get_task("pos")
    rows = {}
    only = args.only.split(",") if args.only else list(SETTINGS)
    if unknown := [k for k in only if k not in SETTINGS]:
        parser.error(f"--only: {unknown} are not settings; expected some of {', '.join(SETTINGS)}")
    settings = {k: v for k, v in SETTINGS.items() if k in only}
    # plain LT-SFT beside every [finetune] change (e.g. density: it trains more of the student either way), then
    # at the defaults, last, so the build's lt-sft result file stays the default's
    for key, (what, _, finetune) in settings.items():
        if finetune:
            target = resolve_target(args.language, args.workdir, None, finetune | {"seeds": seeds}, teacher=False,
                                    only=["distill"])
            rows[f"plain LT-SFT of the student, {what.removeprefix('the default ')}"] = summarise(
                run_eval(target, [pos], ["lt-sft"], languages))
    plain_target = resolve_target(args.language, args.workdir, None, {"seeds": seeds}, teacher=False, only=["distill"])
    rows["plain LT-SFT of the student"] = summarise(run_eval(plain_target, [pos], ["lt-sft"], languages))
    for key, (what, distill, finetune) in settings.items():
        finetune = finetune | {"seeds": seeds}
        target = resolve_target(args.language, args.workdir, None, finetune, teacher=False, only=["distill"])
        target.config = load_language(args.language, {"distill": distill, "finetune": finetune})
        rows[f"lt-sft-kd, {what}"] = summarise(run_eval(target, [pos], ["lt-sft-kd"], languages))
    out = args.workdir / args.language / "tasks" / "phase2-sweep.json"
    earlier = json.loads(out.read_text()) if out.exists() else {}
    if earlier.get("seeds") == seeds:  # --only adds rows to an earlier sweep over the same seeds
        current = {"plain LT-SFT of the student"} | {f"lt-sft-kd, {what}" for what, _, _ in SETTINGS.values()} | {
            f"plain LT-SFT of the student, {what.removeprefix('the default ')}" for what, _, f in SETTINGS.values() if f}
        rows = {name: row for name, row in earlier["rows"].items() if name in current} | rows
        settings = {k: tuple(v) for k, v in earlier["settings"].items() if k in SETTINGS} | settings
    write_json_atomic(out, {"language": args.language, "seeds": seeds, "settings": {k: list(v) for k, v in settings.items()},
                            "rows": rows})
    print(f"\nphase 2 on the {args.language} student, POS word accuracy (%), mean ± std over seeds {seeds}:")
    print("| setting | " + " | ".join(f"en->{lang}" for lang in languages) + " |")
    print("|---|" + "---|" * len(languages))
    for name, by_lang in rows.items():
        print(f"| {name} | " + " | ".join(f"{100 * by_lang[lang]['mean']:.1f} ± {100 * by_lang[lang]['std']:.1f}"
                                         for lang in languages) + " |")
    print(f"\n{out}")


if __name__ == "__main__":
    main()
