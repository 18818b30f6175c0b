"""The `polyglot-kd` command line: one sub-command per job, built on the stage functions."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from polyglot_kd.config import KNOWN_STAGES, known_languages, load_language
from polyglot_kd.errors import PolyglotError
from polyglot_kd.paths import DEFAULT_WORKDIR

log = logging.getLogger("polyglot_kd")

EPILOG = """examples:
  polyglot-kd build pt --stages trim,eval     trim the teacher to en+pt and evaluate it beside the teacher
  polyglot-kd teacher info                    what the embedded teacher is
  polyglot-kd languages                       the language files and whether they are valid
  polyglot-kd summary                         teacher vs trimmed model, every language built
  polyglot-kd bench trim pt                   trimming time and token-counting throughput
  polyglot-kd eval pt --tasks retrieval,pos --method lt-sft
                                              zero-shot task suite: the pt build's models beside the teacher
  polyglot-kd eval builds/sw/trim --tasks retrieval,mining   any model directory or stage folder
"""


def _stages(value: str) -> list[str]:
    stages = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in stages if s not in KNOWN_STAGES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown stage(s) {unknown}; known: {', '.join(KNOWN_STAGES)}")
    return stages


def cmd_build(args) -> None:
    from polyglot_kd.build import run_build

    overrides = {"teacher": args.teacher} if args.teacher else {}
    config = load_language(args.language, overrides)
    stages = args.stages or config.stages
    log.info("building %s (%s) with stages %s into %s", config.code, config.name, ",".join(stages), args.workdir)
    log.info("resolved config: %s", json.dumps(config.to_dict(), ensure_ascii=False))
    manifests = run_build(config, args.workdir, stages, force=set(args.force or []))
    for stage, manifest in manifests.items():
        print(f"{stage}: {Path(args.workdir) / config.code / stage} ({manifest['seconds']:.1f} s)")


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
    from polyglot_kd.errors import ConfigError

    for code in known_languages():
        try:
            cfg = load_language(code)
            print(f"{code:4} {cfg.name:12} bible={cfg.corpus.bible} udhr={cfg.corpus.udhr} stages={','.join(cfg.stages)}")
        except ConfigError as exc:
            print(f"{code:4} INVALID: {exc}")


def cmd_check(args) -> None:
    from polyglot_kd.build import preflight

    config = load_language(args.language)
    preflight(config, config.stages)
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
    from polyglot_kd.summary import summary_table

    print(summary_table(args.workdir, args.model))


def cmd_bench(args) -> None:
    from polyglot_kd import bench

    bench.trim_benchmark(load_language(args.language), repeats=args.repeats)


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
    from polyglot_kd.evaluation import check_request, resolve_target, run_eval
    from polyglot_kd.tasks import parse_tasks

    tasks = parse_tasks(args.tasks)
    languages = _comma_list(args.languages) if args.languages else None
    sources = {k: str(v) for k, v in (args.data or [])}
    check_request(tasks, languages, sources)
    finetune = dict(args.set or [])
    if args.method:
        finetune["method"] = args.method
    if args.seeds:
        try:
            finetune["seeds"] = [int(s) for s in _comma_list(args.seeds)]
        except ValueError:
            raise PolyglotError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    target = resolve_target(args.target, args.workdir, args.language, finetune, teacher=not args.no_teacher,
                            only=_comma_list(args.models) if args.models else None)
    run_eval(target, tasks, target.options.method, languages, sources)


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
    p.add_argument("--stages", type=_stages, help=f"comma-separated stages (default: the language file's); known: {','.join(KNOWN_STAGES)}")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="build folder (default: ./builds)")
    p.add_argument("--force", action="append", metavar="STAGE", help="redo STAGE even if finished ('all' for every stage); repeatable")
    p.add_argument("--teacher", help="teacher: embedded name (e5-small), local model directory or hub id")
    p.set_defaults(func=cmd_build)

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
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("fetch", help="download and convert the embedded teacher and corpora now (else on first use)")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("summary", help="one table of teacher vs built model across every language built")
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="build folder (default: ./builds)")
    p.add_argument("--model", default="trim", help="which build stage's model to compare (default: trim)")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("eval", help="zero-shot task suite (retrieval, mining, POS, XTREME tasks) for a build or model",
                       description="Evaluate a build's models beside the teacher, or any model directory, on tasks "
                                   "from the registry: trained tasks learn on English (method full, lt-sft or "
                                   "adapters; several seeds; English-dev selection) and are tested zero-shot. "
                                   "One JSON per (model, task, language, method) goes to <workdir>/<lang>/tasks/.")
    p.add_argument("target", help="a language code (its build's models) or a model directory / stage folder")
    p.add_argument("--tasks", default="retrieval", help="comma-separated tasks (default: retrieval); "
                   "known: retrieval, mining, pos, xnli, pawsx, panx, udpos, xquad, mlqa, tydiqa")
    p.add_argument("--method", help="training method of trained tasks: full, lt-sft or adapters (default: the "
                   "language file's finetune.method, lt-sft)")
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
