"""Examples of a trained task, with the label-set checks every task shares."""

from __future__ import annotations

import random
from dataclasses import dataclass

from polyglot_kd.core.errors import PolyglotError


@dataclass
class TaskData:
    """One split of one task in one language.

    examples: token classification {"words": [...], "labels": [...]}; sequence classification
    {"text": str, "text_pair": str | None, "label": str}; extractive QA {"id", "question",
    "context", "answers": {"text": [...], "answer_start": [...]}}."""

    task: str
    split: str
    language: str
    examples: list[dict]
    source: str
    """Where the examples came from (package spec, file or hub id), recorded in results."""

    def __len__(self) -> int:
        return len(self.examples)

    def labels(self) -> set[str]:
        out = set()
        for ex in self.examples:
            if "labels" in ex:
                out.update(ex["labels"])
            elif "label" in ex:
                out.add(ex["label"])
        return out


def sample(items: list, limit: int | None, seed: int = 0) -> list:
    """A fixed sample of at most `limit` items, in their original order (0 or None: all)."""
    if not limit or len(items) <= limit:
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in keep]


def check_labels(task_labels: tuple[str, ...], train: TaskData, *tests: TaskData) -> None:
    """Every label of the test data must be one the task defines and training data has; an empty
    split is an error too (before any training starts)."""
    for data in (train, *tests):
        if not data.examples:
            raise PolyglotError(f"{data.task}: the {data.split} data ({data.language}, {data.source}) holds no example")
        unknown = data.labels() - set(task_labels)
        if task_labels and unknown:
            raise PolyglotError(f"{data.task}: the {data.split} data ({data.language}, {data.source}) has labels "
                                f"{sorted(unknown)} outside the task's label set {list(task_labels)}")
    seen = train.labels()
    for data in tests:
        missing = data.labels() - seen
        if missing:
            raise PolyglotError(f"{data.task}: label sets do not match: the {data.split} data ({data.language}, "
                                f"{data.source}) has {sorted(missing)}, which the training data ({train.source}) never shows")
