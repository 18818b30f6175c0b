"""What a task is: its metric, languages, kind, and how it loads and scores its data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from polyglot_kd.core.errors import PolyglotError, did_you_mean
from polyglot_kd.tasks import TASK_KINDS

EMBEDDING = "embedding"  # scores a frozen encoder; the trained kinds are in polyglot_kd.tasks.TASK_KINDS


@dataclass(frozen=True)
class Task:
    """One evaluation task."""

    name: str
    kind: str
    """EMBEDDING or one of TASK_KINDS: decides which training / scoring path runs it."""
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
        if self.kind != EMBEDDING and self.kind not in TASK_KINDS:
            raise ValueError(f"task {self.name}: kind {self.kind!r} is not one of {[EMBEDDING, *TASK_KINDS]}")

    @property
    def trained(self) -> bool:
        return self.kind != EMBEDDING

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
