"""PAWS-X: paraphrase identification in 7 languages (accuracy).

Hub: `google-research-datasets/paws-x` (config per language; sentence1, sentence2, label). Local,
as published (`x-final/`): `<lang>/train.tsv` (English), `<lang>/dev_2k.tsv`, `<lang>/test_2k.tsv`,
tab-separated with the header id, sentence1, sentence2, label (1 = paraphrase).
"""

from __future__ import annotations

from polyglot_kd.data import xtreme
from polyglot_kd.tasks.task import Task
from polyglot_kd.tasks.data import TaskData, sample
from polyglot_kd.tasks.metrics import classification_accuracy

NAME = "pawsx"
HUB = "google-research-datasets/paws-x"
LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")
LABELS = ("0", "1")
FILES = {"train": "train.tsv", "dev": "dev_2k.tsv", "test": "test_2k.tsv"}


def load(split: str, language: str, source: str = "", limit: int | None = None) -> TaskData:
    source = source or HUB
    if xtreme.is_local(source):
        path = xtreme.find_file(source, f"{language}/{FILES[split]}", what=f"PAWS-X {split} file of {language!r}")
        rows = xtreme.read_tsv(path, ["sentence1", "sentence2", "label"])
    else:
        rows = xtreme.hub(source, language, {"train": "train", "dev": "validation", "test": "test"}[split])
    examples = [{"text": r["sentence1"], "text_pair": r["sentence2"], "label": str(r["label"])} for r in rows]
    return TaskData(NAME, split, language, sample(examples, limit), source)


TASK = Task(NAME, "sequence-classification", "accuracy", True,
              "PAWS-X paraphrase identification, zero-shot from English",
              languages=LANGUAGES, load=load, metrics=classification_accuracy, labels=LABELS, default_source=HUB)
