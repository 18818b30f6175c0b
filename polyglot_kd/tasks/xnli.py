"""XNLI: natural language inference in 15 languages (accuracy). English training on MultiNLI.

Hub: `facebook/xnli` (one config per language; premise, hypothesis, label). Local, as published:
a folder holding `xnli.dev.tsv` / `xnli.test.tsv` (XNLI-1.0: columns language, gold_label,
sentence1, sentence2, ...) and the English training set, `multinli_1.0_train.jsonl` (MultiNLI:
gold_label, sentence1, sentence2) or `multinli.train.en.tsv` (XNLI-MT: premise, hypo, label).
"""

from __future__ import annotations

from polyglot_kd.data import xtreme
from polyglot_kd.tasks.task import Task
from polyglot_kd.tasks.data import TaskData, sample
from polyglot_kd.tasks.metrics import classification_accuracy

NAME = "xnli"
HUB = "facebook/xnli"
LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
LABELS = ("entailment", "neutral", "contradiction")
_ALIASES = {"contradictory": "contradiction"}  # XNLI-MT's spelling


def _example(premise: str, hypothesis: str, label: str) -> dict:
    return {"text": premise, "text_pair": hypothesis, "label": _ALIASES.get(label, label)}


def _local(split: str, language: str, root: str) -> list[dict]:
    if split == "train":
        path = xtreme.find_file(root, "multinli_1.0_train.jsonl", "multinli.train.en.tsv", what="English MultiNLI training file")
        if path.suffix == ".jsonl":
            rows = xtreme.read_jsonl(path, ["gold_label", "sentence1", "sentence2"])
            return [_example(r["sentence1"], r["sentence2"], r["gold_label"]) for r in rows if r["gold_label"] != "-"]
        rows = xtreme.read_tsv(path, ["premise", "hypo", "label"])
        return [_example(r["premise"], r["hypo"], r["label"]) for r in rows]
    path = xtreme.find_file(root, f"xnli.{'dev' if split == 'dev' else 'test'}.tsv", what=f"XNLI {split} file")
    rows = xtreme.read_tsv(path, ["language", "gold_label", "sentence1", "sentence2"])
    return [_example(r["sentence1"], r["sentence2"], r["gold_label"]) for r in rows if r["language"] == language]


def load(split: str, language: str, source: str = "", limit: int | None = None) -> TaskData:
    source = source or HUB
    if xtreme.is_local(source):
        examples = _local(split, language, source)
    else:
        data = xtreme.hub(source, language, {"train": "train", "dev": "validation", "test": "test"}[split])
        names = xtreme.class_names(data, "label") or list(LABELS)
        examples = [_example(r["premise"], r["hypothesis"], names[r["label"]]) for r in data]
    return TaskData(NAME, split, language, sample(examples, limit), source)


TASK = Task(NAME, "sequence-classification", "accuracy", True,
              "XNLI natural language inference (MultiNLI English training), zero-shot",
              languages=LANGUAGES, load=load, metrics=classification_accuracy, labels=LABELS, default_source=HUB)
