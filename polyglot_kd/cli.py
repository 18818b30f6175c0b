"""The `polyglot-kd` command line: one sub-command per job, built on the stage functions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from polyglot_kd.config import known_languages, load_language
from polyglot_kd.methods.embed_init import INIT_METHODS
from polyglot_kd.methods.embed_init.config import VECTOR_FORMATS
from polyglot_kd.pipeline.stages import STAGES
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.paths import DEFAULT_WORKDIR

log = logging.getLogger("polyglot_kd")

EPILOG = """examples:
  polyglot-kd build pt --stages trim,eval     trim the teacher to en+pt and evaluate it beside the teacher
  polyglot-kd teacher info                    what the embedded teacher is
  polyglot-kd languages                       the language files and whether they are valid
  polyglot-kd summary                         teacher vs trimmed model, every language built
  polyglot-kd bench trim pt                   trimming time and token-counting throughput
  polyglot-kd release sw                      the evaluated sw model as a folder ready to publish
  polyglot-kd leaderboard                     eval/leaderboard.md, .csv, .html from every build's report
  polyglot-kd stack pt --mt-encoder embedded --enter-layer 0     stack the pt-reading MT encoder under the model
  polyglot-kd distill pt --task pos --compare   BiStil phase 2: the distilled student learns POS from its task-tuned teacher
  polyglot-kd embed-init sw --method ofa --rank 100     a sw tokenizer with OFA-initialised factorised embeddings
  polyglot-kd build sw --stages trim,embed-init,distill,eval      ... then a student distilled from it
  polyglot-kd eval pt --tasks retrieval,pos --method lt-sft
                                              zero-shot task suite: the pt build's models beside the teacher
  polyglot-kd eval builds/sw/trim --tasks retrieval,mining   any model directory or stage folder
"""


def _stages(value: str) -> list[str]:
    stages = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES.names()]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown stage(s) {unknown}; known: {', '.join(STAGES.names())}")
    return stages


def cmd_build(args) -> None:
    from polyglot_kd.pipeline.build import run_build

    overrides = {"teacher": args.teacher} if args.teacher else {}
    config = load_language(args.language, overrides)
    stages = args.stages or config.stages
    log.info("building %s (%s) with stages %s into %s", config.code, config.name, ",".join(stages), args.workdir)
    log.info("resolved config: %s", json.dumps(config.to_dict(), ensure_ascii=False))
    manifests = run_build(config, args.workdir, stages, force=set(args.force or []))
    for stage, manifest in manifests.items():
        print(f"{stage}: {Path(args.workdir) / config.code / stage} ({manifest['seconds']:.1f} s)")


def cmd_distill(args) -> None:
    """The distill stage alone, options overriding the language file's [distill] table."""
    from polyglot_kd.pipeline.build import run_build

    options = {"student_layers": args.student_layers, "steps": args.steps, "layer_selection": args.selection,
               "layers": args.layers, "hidden_size": args.hidden_size, "time_budget_minutes": args.time_budget,
               "batch_size": args.batch_size, "lr": args.lr, "contrastive_weight": args.contrastive_weight,
               "task_temperature": args.temperature}
    overrides = {k: v for k, v in options.items() if v is not None} | dict(args.set or [])
    config = load_language(args.language, {"distill": overrides})
    log.info("distill config: %s", json.dumps(vars(config.distill)))
    if args.task:
        return _distill_task(args, overrides)
    manifest = run_build(config, args.workdir, ["distill"], force={"distill"} if args.force else set())["distill"]
    print(f"distill: {Path(args.workdir) / config.code / 'distill'} ({manifest['seconds']:.1f} s)")


def _distill_task(args, overrides: dict) -> None:
    """Phase 2: the build's distilled student learns the task with lt-sft-kd (the eval suite's method)."""
    from polyglot_kd.pipeline.task_suite import resolve_target, run_eval
    from polyglot_kd.tasks import parse_tasks

    tasks = parse_tasks(args.task)
    student = Path(args.workdir) / args.language / "distill" / "model"
    if not (student / "config.json").is_file():
        raise PolyglotError(f"phase 2 needs the distilled student {student}: run `polyglot-kd distill {args.language}` first")
    finetune = {"seeds": [int(s) for s in _comma_list(args.seeds)]} if args.seeds else {}
    target = resolve_target(args.language, args.workdir, None, finetune, teacher=False, only=["distill"])
    target.config = load_language(args.language, {"distill": overrides} | ({"finetune": finetune} if finetune else {}))
    methods = ["lt-sft-kd"] + (["lt-sft"] if args.compare else [])
    run_eval(target, tasks, methods, _comma_list(args.languages) if args.languages else None)


def cmd_embed_init(args) -> None:
    """The embed-init stage alone, options overriding the language file's [embed_init] table."""
    from polyglot_kd.pipeline.build import run_build

    options = {"method": args.method, "rank": args.rank, "vectors": args.vectors, "vectors_format": args.vectors_format,
               "vector_dim": args.vector_dim, "vocab_size": args.vocab_size}
    config = load_language(args.language, {"embed_init": {k: v for k, v in options.items() if v is not None}})
    log.info("embed_init config: %s", json.dumps(vars(config.embed_init)))
    manifest = run_build(config, args.workdir, ["embed-init"], force={"embed-init"} if args.force else set())["embed-init"]
    m = manifest["metrics"]
    print(f"embed-init: {Path(args.workdir) / config.code / 'embed-init'} ({manifest['seconds']:.1f} s)")
    print(f"  {m['method']} rank {m['rank'] or 'full'}: vocabulary {m['vocab_old']:,} -> {m['vocab_new']:,}; "
          f"embedding parameters {m['embedding_params_base']:,} -> {m['embedding_params']:,}; tokens {m['tokens']}")
    bli = (m.get("vectors") or {}).get("bli") or {}
    if bli.get("precision_at_1") is not None:
        print(f"  word vectors: BLI precision@1 {100 * bli['precision_at_1']:.1f}% on {bli['pairs']} held-out pairs")
    for name, f in m["fertility"].items():
        print(f"  tokens per word, {name}: {f['old']:.3f} -> {f['new']:.3f} ({f['ratio']:.2f}x)")


def cmd_teacher_info(args) -> None:
    from polyglot_kd.sources.teacher import DEFAULT_TEACHER, teacher_info

    info = teacher_info(args.teacher or DEFAULT_TEACHER)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return
    width = max(map(len, info))
    for key, value in info.items():
        value = f"{value:,}" if isinstance(value, int) else value
        print(f"{key:<{width}}  {value}")


def cmd_languages(args) -> None:
    from polyglot_kd.core.errors import ConfigError

    for code in known_languages():
        try:
            cfg = load_language(code)
            print(f"{code:4} {cfg.name:12} bible={cfg.corpus.bible} udhr={cfg.corpus.udhr} stages={','.join(cfg.stages)}")
        except ConfigError as exc:
            print(f"{code:4} INVALID: {exc}")


def cmd_check(args) -> None:
    from polyglot_kd.pipeline.build import preflight

    config = load_language(args.language)
    preflight(config, args.stages or config.stages)
    print(f"{args.language}: valid")
    print(json.dumps(config.to_dict(), indent=2, ensure_ascii=False))


def cmd_fetch(args) -> None:
    from polyglot_kd.data import bible, udhr
    from polyglot_kd.sources.teacher import resolve_teacher

    print("teacher:", resolve_teacher("e5-small"))
    print("baseline:", resolve_teacher("e5-small-enpt"))
    print("bible translations:", len(bible.translations()))
    print("udhr declarations:", len(udhr.declaration_codes()))


def cmd_summary(args) -> None:
    from polyglot_kd.reports import summary

    if args.tasks:
        print(summary.frozen_task_tables(args.workdir) + "\n\n" + summary.trained_task_tables(args.workdir))
        return
    print(summary.summary_table(args.workdir, args.model))


def cmd_stack(args) -> None:
    from polyglot_kd.pipeline.build import run_build

    keys = ("mt_encoder", "enter_layer", "trainable_layers", "steps", "max_minutes", "backbone", "student_side",
            "curve_split")
    stack = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    config = load_language(args.language, {"stack": stack})
    log.info("resolved stack config: %s", json.dumps(config.to_dict()["stack"], ensure_ascii=False))
    manifest = run_build(config, args.workdir, ["stack"], force={"stack"} if args.force else set())["stack"]
    m = manifest["metrics"]
    print(f"stack: {Path(args.workdir) / config.code / 'stack'} ({manifest['seconds']:.1f} s, {m['steps']} steps)")
    if m.get("curve"):
        last = m["curve"][-1]
        print(f"retrieval {config.source}<->{config.code} on {len(m['curve'])} curve points, last: {100 * last['mean']:.1f}%")


def cmd_bench(args) -> None:
    from polyglot_kd.pipeline import bench

    config = load_language(args.language)
    if args.bench_command == "trim":
        bench.trim_benchmark(config, repeats=args.repeats)
    elif args.bench_command == "embed-init":
        bench.embed_init_benchmark(config, args.workdir, args.items, args.repeats)
    elif args.bench_command == "stack":
        model = args.model or Path(args.workdir) / args.language / "stack" / "model"
        bench.stack_benchmark(config, Path(model), args.items, args.repeats)
    else:
        bench.encode_benchmark(config, args.workdir, repeats=args.repeats)


def cmd_release(args) -> None:
    from polyglot_kd.pipeline.build import Build, run_build
    from polyglot_kd.pipeline.stages.release import release_folder
    from polyglot_kd.reports import release

    config = load_language(args.language, {"release": {"model": args.model}} if args.model else {})
    run_build(config, args.workdir, ["release"], force={"release"} if args.force else set())
    folder = release_folder(Build(config, Path(args.workdir) / config.code))
    try:
        count = release.verify_release(folder)
    except release.ReleaseMismatch as exc:
        raise PolyglotError(f"{exc}\nrebuild it: polyglot-kd release {config.code} --force") from None
    if args.out:
        folder = release.copy_release(folder, args.out)
    print(f"release: {folder} ({count} files, SHA-256 checked)")
    if args.push:
        print(f"pushed to {args.push}: {release.push_release(folder, args.push)}")


def cmd_leaderboard(args) -> None:
    from polyglot_kd.reports import browser
    from polyglot_kd.reports.files import LEADERBOARD_HTML
    from polyglot_kd.reports.leaderboard import write_leaderboard

    for path in write_leaderboard(args.workdir, args.out):
        print(path)
    if args.screenshot:
        print(browser.screenshot(browser.page_url(Path(args.out) / LEADERBOARD_HTML), args.screenshot))


def _key_value(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)  # numbers, true/false, [1, 2]
    except json.JSONDecodeError:
        return key.strip(), value


def _comma_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def cmd_eval(args) -> None:
    from polyglot_kd.pipeline.task_suite import check_request, resolve_target, run_eval
    from polyglot_kd.tasks import parse_tasks

    tasks = parse_tasks(args.tasks)
    languages = _comma_list(args.languages) if args.languages else None
    sources = {k: str(v) for k, v in (args.data or [])}
    check_request(tasks, languages, sources)
    finetune = dict(args.set or [])
    methods = _comma_list(args.method) if args.method else []
    if methods:
        finetune["method"] = methods[0]  # checked with the config; the others by run_eval
    if args.seeds:
        try:
            finetune["seeds"] = [int(s) for s in _comma_list(args.seeds)]
        except ValueError:
            raise PolyglotError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    target = resolve_target(args.target, args.workdir, args.language, finetune, teacher=not args.no_teacher,
                            only=_comma_list(args.models) if args.models else None)
    run_eval(target, tasks, methods or target.options.method, languages, sources)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polyglot-kd",
        description="Turn a multilingual encoder into a compact language-specific model: "
                    "trim the vocabulary, evaluate against the teacher, and keep every step on disk.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", help="run a language's pipeline (skips finished stages)",
                       description="Run the stages of languages/<LANG>.toml; each writes <workdir>/<LANG>/<stage>/ "
                                   "and its manifest.json last, so a rerun skips what is finished.")
    p.add_argument("language", help=f"language code: one of {', '.join(known_languages())}")
    p.add_argument("--stages", type=_stages, help=f"comma-separated stages (default: the language file's); known: {','.join(STAGES.names())}")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="build folder (default: ./builds)")
    p.add_argument("--force", action="append", metavar="STAGE", help="redo STAGE even if finished ('all' for every stage); repeatable")
    p.add_argument("--teacher", help="teacher: embedded name (e5-small), local model directory or hub id")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("distill", help="the distillation stage alone (needs a trimmed model: build LANG --stages trim)",
                       description="Distil a shallower student from the build's trimmed model (BiStil phase 1). "
                                   "Options override the language file's [distill] table. Interrupted runs resume "
                                   "from their last checkpoint. With --task, phase 2 instead: task distillation "
                                   "of the finished student (the eval suite's method lt-sft-kd).")
    p.add_argument("language")
    p.add_argument("--student-layers", type=int, help="number of student layers (default 6)")
    p.add_argument("--selection", choices=["bottom", "regular", "list"], help="which teacher layers to keep")
    p.add_argument("--layers", type=lambda v: [int(x) for x in v.split(",")], help="teacher layers for --selection list, e.g. 0,2,4")
    p.add_argument("--hidden-size", type=int, help="narrower student width (0: the teacher's)")
    p.add_argument("--steps", type=int, help="optimiser steps")
    p.add_argument("--time-budget", type=float, help="stop after this many minutes")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--contrastive-weight", type=float, help="weight of the in-batch contrastive loss (default 0)")
    p.add_argument("--set", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="any [distill] option (see DistillConfig in config.py), e.g. --set hidden_weight=1; repeatable")
    p.add_argument("--task", help="phase 2 instead (task distillation): the distilled student learns this task of the "
                   "eval suite (e.g. pos) on English with LT-SFT, its loss soft cross-entropy at temperature T plus "
                   "hidden/attention losses against the task-tuned teacher (the trimmed model + its own LT-SFT for "
                   "the task, trained once and cached); options in [distill] task_*; tested zero-shot like "
                   "`polyglot-kd eval LANG --method lt-sft-kd`, results in <workdir>/<LANG>/tasks/distill/")
    p.add_argument("--temperature", type=float, help="phase 2: soft cross-entropy temperature T (default 2)")
    p.add_argument("--seeds", help="phase 2: comma-separated seeds (default: [finetune] seeds)")
    p.add_argument("--languages", help="phase 2: test languages (default: the task's, e.g. tr,id for pos)")
    p.add_argument("--compare", action="store_true", help="phase 2: also train the same student with plain LT-SFT")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    p.add_argument("--force", action="store_true", help="start over even if finished")
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser("embed-init", help="a language-specific tokenizer with initialised (OFA, FOCUS, ...) embeddings",
                       description="Train a sentencepiece unigram tokenizer on the target's training verses (English "
                                   "mixed in) and initialise its embeddings from the trimmed model: OFA (word-vector "
                                   "neighbours; factorised at --rank), FOCUS, mean of pieces or random. Options "
                                   "override the language file's [embed_init] table. Needs: build LANG --stages trim.")
    p.add_argument("language")
    p.add_argument("--method", choices=INIT_METHODS.names(), help="initialisation (default ofa)")
    p.add_argument("--rank", type=int, help="rank of the factorised embedding; 0 = full (default 100)")
    p.add_argument("--vectors", help="word vectors: fastText .vec/.bin or ColexNet+-style 'lang:word' file "
                                     "(default: built here with fastText from the parallel verses)")
    p.add_argument("--vectors-format", choices=VECTOR_FORMATS)
    p.add_argument("--vector-dim", type=int, help="dimension the vectors must have (0: the file's)")
    p.add_argument("--vocab-size", type=int, help="pieces of the new tokenizer (default 16000)")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    p.add_argument("--force", action="store_true", help="redo it even if finished")
    p.set_defaults(func=cmd_embed_init)

    p = sub.add_parser("teacher", help="inspect a teacher model")
    tsub = p.add_subparsers(dest="teacher_command", required=True, metavar="ACTION")
    info = tsub.add_parser("info", help="parameters, layers, vocabulary and source of a teacher")
    info.add_argument("--teacher", help="embedded name (e5-small, e5-small-enpt), local directory or hub id")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_teacher_info)

    p = sub.add_parser("languages", help="list the language files and check each")
    p.set_defaults(func=cmd_languages)

    p = sub.add_parser("check", help="validate a language file and its inputs without building")
    p.add_argument("language")
    p.add_argument("--stages", type=_stages, help="check these stages' inputs too, e.g. trim,embed-init,distill "
                                                  "(default: the language file's stages)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("fetch", help="download and convert the embedded teacher and corpora now (else on first use)")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("summary", help="one table of teacher vs built model across every language built")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="build folder (default: ./builds)")
    p.add_argument("--model", default="trim", help="which build stage's model to compare (default: trim)")
    p.add_argument("--tasks", action="store_true",
                   help="instead: every build's task results (polyglot-kd eval), one table per task and method")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("release", help="the evaluated model of a build as a folder ready to publish",
                       description="Write <workdir>/<LANG>/release/<name>/: safetensors weights, tokenizer, the "
                                   "sentence-transformers layout, a model card with the evaluation and SHA256SUMS.")
    p.add_argument("language")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="build folder (default: ./builds)")
    p.add_argument("--model", metavar="STAGE", help="stage whose model to release (default: the last evaluated one)")
    p.add_argument("--out", type=Path, help="also copy the release folder here")
    p.add_argument("--push", metavar="REPO", help="upload to this Hugging Face hub repository (owner/name; needs a token)")
    p.add_argument("--force", action="store_true", help="rebuild the release even if it is up to date")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("leaderboard", help="every build's scores in one table: Markdown, CSV and an HTML page with plots")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="build folder (default: ./builds)")
    p.add_argument("--out", type=Path, default=Path("eval"), help="output folder (default: ./eval)")
    p.add_argument("--screenshot", type=Path, metavar="PNG", help="also save a screenshot of the page (needs chromium)")
    p.set_defaults(func=cmd_leaderboard)
    p = sub.add_parser("stack", help="stack an MT encoder under the backbone and train it (self-distillation)",
                       description="Run the stack stage of a language's build: a frozen MT encoder's states, through a "
                                   "trainable projection, enter the backbone at --enter-layer; trained towards the "
                                   "backbone reading its own tokens. Options override the language file's [stack].")
    p.add_argument("language")
    p.add_argument("--mt-encoder", help="'embedded' (en<->pt pair), 'embedded:pt-en', a hub id or a local directory "
                                        "of a Marian, M2M100 or NLLB model")
    p.add_argument("--enter-layer", type=int, help="0 = as input embeddings (MT-LLM), k = before backbone layer k")
    p.add_argument("--trainable-layers", type=int, help="trainable copies of the backbone layers above the entry")
    p.add_argument("--steps", type=int, help="training steps at most")
    p.add_argument("--max-minutes", type=float, help="training time budget in minutes (0 = none)")
    p.add_argument("--backbone", help="'auto', a stage (trim), a teacher name, a local dir or a hub id")
    p.add_argument("--student-side", choices=["source", "target"], help="side of the parallel verses the stacked model reads")
    p.add_argument("--curve-split", choices=["dev", "test"], help="split of the retrieval curve measured while training")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="build folder (default: ./builds)")
    p.add_argument("--force", action="store_true", help="retrain even if an identical stack stage is finished")
    p.set_defaults(func=cmd_stack)
    p = sub.add_parser("eval", help="zero-shot task suite (retrieval, mining, POS, XTREME tasks) for a build or model",
                       description="Evaluate a build's models beside the teacher, or any model directory, on tasks "
                                   "from the registry: trained tasks learn on English (method full, lt-sft or "
                                   "adapters; several seeds; English-dev selection) and are tested zero-shot. "
                                   "One JSON per (model, task, language, method) goes to <workdir>/<lang>/tasks/.")
    p.add_argument("target", help="a language code (its build's models) or a model directory / stage folder")
    p.add_argument("--tasks", default="retrieval", help="comma-separated tasks (default: retrieval); "
                   "known: retrieval, mining, pos, xnli, pawsx, panx, udpos, xquad, mlqa, tydiqa")
    p.add_argument("--method", help="training method(s) of trained tasks, comma-separated: full, lt-sft, adapters, "
                   "lt-sft-kd (task distillation of the build's distilled student from its task-tuned teacher; "
                   "other models skip it) (default: the language file's finetune.method, lt-sft)")
    p.add_argument("--languages", help="test languages of trained tasks (default: the build's language if the "
                   "task covers it, else the task's own, e.g. tr,id for pos)")
    p.add_argument("--language", help="language of a model directory given as target (default: its build manifest's)")
    p.add_argument("--seeds", help="comma-separated seeds (default: 1,2,3)")
    p.add_argument("--set", action="append", type=_key_value, metavar="KEY=VALUE",
                   help="a finetune option (see [finetune] in config.py), e.g. --set train_examples=2000; repeatable")
    p.add_argument("--data", action="append", type=_key_value, metavar="TASK=SOURCE",
                   help="data of an XTREME task: a hub id or a local folder in the published format; repeatable")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="build folder (default: ./builds)")
    p.add_argument("--no-teacher", action="store_true", help="do not evaluate the teacher beside the models")
    p.add_argument("--models", help="only these of the target's models, e.g. teacher,trim (default: all)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="benchmarks that print measured figures")
    bsub = p.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    b = bsub.add_parser("trim", help="end-to-end trimming time and token-counting throughput")
    b.add_argument("language")
    b.add_argument("--repeats", type=int, default=3)
    b.set_defaults(func=cmd_bench)
    b = bsub.add_parser("encode", help="encoding throughput of the teacher and every built model, side by side")
    b.add_argument("language")
    b.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    b.add_argument("--repeats", type=int, default=3)
    b.set_defaults(func=cmd_bench)
    b = bsub.add_parser("embed-init", help="fertility and encoding speed: the embed-init model vs the teacher")
    b.add_argument("language")
    b.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    b.add_argument("--items", type=int, default=1000, help="held-out verses to encode")
    b.add_argument("--repeats", type=int, default=3)
    b.set_defaults(func=cmd_bench)
    b = bsub.add_parser("stack", help="parameters and encoding throughput: stacked model vs teacher")
    b.add_argument("language")
    b.add_argument("--model", help="stacked model directory (default: <workdir>/<lang>/stack/model)")
    b.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    b.add_argument("--items", type=int, default=1000, help="held-out verses to encode")
    b.add_argument("--repeats", type=int, default=3)
    b.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:  # e.g. "weights not used: pooler" for mean-pooled encoders loaded without one
        import transformers

        transformers.logging.set_verbosity_error()
    try:
        args.func(args)
    except PolyglotError as exc:
        print(f"polyglot-kd: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("polyglot-kd: interrupted; finished stages are kept, a rerun resumes", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
