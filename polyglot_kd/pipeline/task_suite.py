"""`polyglot-kd eval`: the task suite for a build's models (beside the teacher) or any model directory.

    polyglot-kd eval pt --tasks retrieval,pos --method lt-sft
    polyglot-kd eval builds/sw/trim --tasks retrieval

Everything is checked before the first model loads: task names, the method, the languages each
task is asked for, the finetune options, and the data itself (labels, empty or malformed files).
Results go to one JSON per (model, task, language, method) under `<workdir>/<lang>/tasks/`, the
build's `eval/report.json` gains the tasks beside `retrieval`, and a table is printed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from polyglot_kd.core.files import versions, write_json_atomic
from polyglot_kd.pipeline.build import Build
from polyglot_kd.config import FinetuneConfig, LanguageConfig, known_languages, load_language, parse_config
from polyglot_kd.core.errors import ConfigError, PolyglotError
from polyglot_kd.reports.files import EVAL_DIR, REPORT_JSON, TASK_RESULTS_DIR
from polyglot_kd.reports.tables import records_table
from polyglot_kd.tasks import parse_tasks, results
from polyglot_kd.tasks.task import Task

log = logging.getLogger(__name__)


@dataclass
class Target:
    config: LanguageConfig | None
    """The language's config (corpora); None for a model of unknown language."""
    options: FinetuneConfig
    models: dict[str, Path]
    results_root: Path
    report: Path | None
    """The build's eval/report.json to extend, if there is one."""


def _found_model(path: Path) -> Path | None:
    """The model directory at `path` or in its model/ (a build stage folder), or None."""
    return next((c for c in (path / "model", path) if (c / "config.json").is_file()), None)


def _model_dir(path: Path) -> Path:
    """A model directory, or a stage folder holding one in model/."""
    if found := _found_model(path):
        return found
    raise PolyglotError(f"{path} holds no model: expected config.json in it or in {path / 'model'} "
                        "(a Hugging Face model directory or a build stage folder)")


def _language_of(path: Path) -> str | None:
    for manifest in (path / "manifest.json", path.parent / "manifest.json"):
        if manifest.is_file():
            return json.loads(manifest.read_text()).get("language")
    return None


def resolve_target(target: str, workdir: Path, language: str | None, finetune: dict,
                   teacher: bool = True, only: list[str] | None = None) -> Target:
    """A language code (the build's models and the teacher) or a model / stage directory;
    `only` keeps the named models (an unknown name is an error listing the available ones)."""
    found = _resolve_target(target, workdir, language, finetune, teacher)
    if only:
        unknown = [m for m in only if m not in found.models]
        if unknown:
            raise PolyglotError(f"--models: {unknown} not among this target's models: {', '.join(found.models)}")
        found.models = {k: v for k, v in found.models.items() if k in only}
    return found


def _resolve_target(target: str, workdir: Path, language: str | None, finetune: dict, teacher: bool) -> Target:
    from polyglot_kd.sources.teacher import resolve_teacher
    from polyglot_kd.pipeline.stages.evaluate import models_to_evaluate

    path = Path(target).expanduser()
    overrides = {"finetune": finetune} if finetune else {}
    if target in known_languages() and not _found_model(path):  # a code, even beside a folder of that name
        config = load_language(target, overrides)
        build = Build(config, Path(workdir) / config.code)
        models = models_to_evaluate(build)
        if not teacher:
            models.pop("teacher")
        if len(models) <= 1:
            log.warning("no finished model in %s yet (polyglot-kd build %s); evaluating the teacher only",
                        build.root, config.code)
        report = build.stage_dir("eval") / REPORT_JSON
        return Target(config, config.finetune, models, build.root / TASK_RESULTS_DIR, report if report.is_file() else None)
    if not path.exists():
        raise PolyglotError(f"{target!r} is neither a model directory nor a language code "
                            f"(known: {', '.join(known_languages())})")
    model_dir = _model_dir(path)
    language = language or _language_of(path)
    # a model of no known language still runs the trained tasks
    config = load_language(language, overrides) if language else None
    options = config.finetune if config else finetune_options(finetune)
    name = model_dir.parent.name if model_dir.name == "model" else model_dir.name  # builds/sw/trim -> trim
    models = {"teacher": resolve_teacher(config.teacher if config else "e5-small")} if teacher else {}
    models[name] = model_dir
    stage_dir = model_dir.parent if model_dir.name == "model" else model_dir
    report = stage_dir.parent / EVAL_DIR / REPORT_JSON  # a build's stage: extend its report too
    if language and report.is_file() and (stage_dir / "manifest.json").is_file():
        return Target(config, options, models, stage_dir.parent / TASK_RESULTS_DIR, report)
    root = Path(workdir) / (language or "models") / TASK_RESULTS_DIR
    return Target(config, options, models, root, None)


def finetune_options(values: dict) -> FinetuneConfig:
    """Finetune options from the defaults and `values`, checked like a language file's."""
    data = parse_config({"code": "xx", "corpus": {"bible": "-"}, "finetune": values}, "the finetune options")
    return data.finetune


def task_languages(task: Task, requested: list[str] | None, config: LanguageConfig | None) -> list[str]:
    """The languages to test a task on: the requested ones (each must be covered), else the build's
    language where the task covers it, else the task's default test languages."""
    if requested:
        for lang in requested:
            task.check_language(lang)
        return list(requested)
    code = config.code if config else None
    if code and task.covers(code):
        return [code]
    if task.default_languages:
        return list(task.default_languages)
    raise PolyglotError(f"task {task.name!r} does not cover {code or 'this model'!r}; name test languages with "
                        f"--languages (it covers: {', '.join(task.languages or [])})")


def check_request(tasks: list[Task], languages: list[str] | None, sources: dict[str, str]) -> None:
    """The cheap checks, before any model or data is touched."""
    unknown = set(sources) - {t.name for t in tasks}
    if unknown:
        raise PolyglotError(f"--data names task(s) {sorted(unknown)} that are not being run ({', '.join(t.name for t in tasks)})")
    for task in tasks:
        if task.trained and languages:
            for lang in languages:
                task.check_language(lang)


def run_eval(target: Target, tasks: list[Task], method: str | list[str], languages: list[str] | None = None,
             sources: dict[str, str] | None = None) -> list[dict]:
    """Run every task on every model with every method (a name or a list: 'lt-sft,lt-sft-kd' puts
    the phase-2 student beside the plain one); returns the records written (and prints their table).
    `lt-sft-kd` runs on the distilled students among the models only."""
    from polyglot_kd.config import DistillConfig
    from polyglot_kd.methods.sft import FINETUNE_METHODS
    from polyglot_kd.methods.bistil import task_kd as kd
    from polyglot_kd.pipeline import task_runs as runner

    sources = sources or {}
    methods = method.split(",") if isinstance(method, str) else list(method)
    for m in methods:
        FINETUNE_METHODS.get(m)
    check_request(tasks, languages, sources)
    kd_options = target.config.distill if target.config else DistillConfig()
    students = {name for name, path in target.models.items() if runner.distilled_from(path) is not None}
    if kd.METHOD in methods:
        if not students:
            raise PolyglotError(f"{kd.METHOD} trains a distilled student against its task-tuned teacher; none of "
                                f"{', '.join(target.models)} is one (a build's distill model)")
        for task in tasks:
            if task.trained:
                kd.check_task(task)
    if trained := [t.name for t in tasks if t.trained]:
        from polyglot_kd.methods.stacking.model import is_stacked

        if stacked := [name for name, path in target.models.items() if is_stacked(path)]:
            others = ",".join(name for name in target.models if name not in stacked)
            raise PolyglotError(f"{', '.join(methods)} fine-tune(s) an encoder's own layers, and {', '.join(stacked)} "
                                f"is a stacked model (an MT encoder under a backbone) that cannot run {', '.join(trained)} "
                                f"that way; leave it out (--models {others}) or score it on retrieval and mining")
    options = target.options
    plans = []  # check everything, load every data set, before the first model trains
    for task in tasks:
        if task.trained:
            splits = runner.load_splits(task, task_languages(task, languages, target.config), options,
                                        sources.get(task.name, ""))
            plans.append((task, splits))
        else:
            config = target.config
            if config is None:
                raise PolyglotError(f"task {task.name!r} needs the model's language (its Bible and UDHR): "
                                    "pass --language CODE")
            if languages and languages != [config.code]:
                raise PolyglotError(f"task {task.name!r} tests the build's language {config.code!r} only, "
                                    f"not {languages}")
            from polyglot_kd.pipeline.checks import corpus_problems

            if problems := corpus_problems(config):
                raise ConfigError(f"the {config.code} corpora", problems)
            plans.append((task, task.datasets(config)))
    log.info("models: %s", {k: str(v) for k, v in target.models.items()})
    log.info("finetune options: %s", json.dumps(dataclasses.asdict(options) | {"methods": methods}))
    records = []
    for task, plan in plans:
        for name, path in target.models.items():
            if task.trained:
                new = []
                for m in methods:
                    if m == kd.METHOD and name not in students:
                        log.info("%s: %s is not a distilled student; skipped", kd.METHOD, name)
                        continue
                    seeds = runner.run_seeds(task, path, m, options, plan,
                                             target.results_root / name / "artifacts" / f"{task.name}.{m}",
                                             kd_options=kd_options)
                    new += runner.records(name, path, task, m, options, plan, seeds)
            else:
                new = [_embedding_record(name, path, task, plan, target.config)]
            results.write_records(target.results_root, new)
            records += new
    if target.report is not None:
        _extend_report(target.report, records)
    print(records_table(records))
    return records


def _embedding_record(name: str, path: Path, task: Task, datasets, config: LanguageConfig) -> dict:
    from polyglot_kd.pipeline.stages.evaluate import evaluate_model

    scores = evaluate_model(path, config, [(task, datasets)])[task.name]
    first = next(iter(scores.values()))
    return {"model": name, "model_path": str(path), "task": task.name, "language": config.code,
            "source_language": config.source, "method": results.FROZEN, "metric": task.primary_metric,
            "greater_is_better": task.greater_is_better, "mean": first[task.primary_metric], "std": 0.0,
            "seeds": [], "datasets": scores, "config": dataclasses.asdict(config.eval), "versions": versions()}


def _extend_report(path: Path, records: list[dict]) -> None:
    """Add the tasks to the build's report.json beside 'retrieval' (which other tools read)."""
    report = json.loads(path.read_text())
    for r in records:
        model = report["models"].get(r["model"])
        if model is None:
            continue
        if r["method"] == results.FROZEN:
            model[r["task"]] = r["datasets"]
        else:
            model.setdefault(r["task"], {}).setdefault(r["method"], {})[r["language"]] = results.summary(r)
    write_json_atomic(path, report)
