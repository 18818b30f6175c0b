"""Evaluation tasks, one module each, registered in one line: `register(Task(...))` at its bottom.

A task names its primary metric and whether greater is better, the languages it covers and its kind:
`embedding` tasks (retrieval, mining) score a frozen encoder; the others train a head on English and
test zero-shot (`token-classification`, `sequence-classification`, `extractive-qa`), sharing one
training path per kind (polyglot_kd.tasks.train). Every module in this package is imported on the
first look-up, so a new task needs nothing beyond its own module.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from polyglot_kd.core.errors import PolyglotError, did_you_mean

KINDS = ("embedding", "token-classification", "sequence-classification", "extractive-qa")


@dataclass(frozen=True)
class Task:
    """One evaluation task."""

    name: str
    kind: str
    """One of KINDS: decides which training / scoring path runs it."""
    primary_metric: str
    """Key of the metric that ranks models (in the task's result dict)."""
    greater_is_better: bool
    description: str
    languages: tuple[str, ...] | None = None
    """Test languages covered; None: any language with a language file (the Bible / UDHR tasks)."""
    default_languages: tuple[str, ...] = ()
    """Languages tested when the user names none and the build's language is not covered."""
    datasets: Callable | None = None
    """Embedding tasks: datasets(language_config) -> the held-out sets to score."""
    evaluate: Callable | None = None
    """Embedding tasks: evaluate(model, tokenizer, dataset, language_config, embed=None) -> metrics."""
    load: Callable | None = None
    """Trained tasks: load(split, language, source, limit) -> polyglot_kd.tasks.data.TaskData
    (split 'train' and 'dev' are English, 'test' is the target language)."""
    metrics: Callable | None = None
    """Trained tasks: metrics(gold, predicted) -> {name: value}, including primary_metric."""
    labels: tuple[str, ...] = ()
    """Label set of a classification task (checked against every data file)."""
    default_source: str = ""
    """Where the data comes from when the user names nothing: a hub id, or '' for embedded packages."""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name}: kind {self.kind!r} is not one of {KINDS}")

    @property
    def trained(self) -> bool:
        return self.kind != "embedding"

    def covers(self, language: str) -> bool:
        return self.languages is None or language in self.languages

    def check_language(self, language: str) -> None:
        """Raise a PolyglotError naming the covered languages when `language` is not one of them."""
        if not self.covers(language):
            raise PolyglotError(f"task {self.name!r} does not cover language {language!r}"
                                f"{did_you_mean(language, self.languages)}; it covers: {', '.join(self.languages)}")

    def better(self, a: float, b: float) -> bool:
        """Whether score a beats score b on the primary metric."""
        return a > b if self.greater_is_better else a < b


_REGISTRY: dict[str, Task] = {}
_LOADED = False


def register(task: Task) -> Task:
    """Add a task to the registry (called once at the bottom of each task module)."""
    if task.name in _REGISTRY and _REGISTRY[task.name] != task:
        raise ValueError(f"task {task.name!r} registered twice")
    _REGISTRY[task.name] = task
    return task


def _load_all() -> None:
    global _LOADED
    if not _LOADED:
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")
        _LOADED = True


def task_names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """The registered task `name`; an unknown name gets an error listing the known ones."""
    _load_all()
    if name not in _REGISTRY:
        raise PolyglotError(f"unknown task {name!r}{did_you_mean(name, _REGISTRY)}; known tasks: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def parse_tasks(text: str) -> list[Task]:
    """'retrieval,pos' -> the tasks, every unknown name reported at once."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise PolyglotError(f"no task named; known tasks: {', '.join(task_names())}")
    unknown = [n for n in names if n not in task_names()]
    if unknown:
        hints = "".join(did_you_mean(n, _REGISTRY) for n in unknown)
        raise PolyglotError(f"unknown task(s) {', '.join(map(repr, unknown))}{hints}; known tasks: {', '.join(task_names())}")
    return [get_task(n) for n in names]
