"""PAN-X (WikiANN) named entities in 40 languages (seqeval entity F1).

Hub: `google/xtreme`, configs `PAN-X.<lang>` (tokens, ner_tags). Local, as XTREME publishes it: a
folder with `<lang>/train`, `<lang>/dev`, `<lang>/test` (or `<split>-<lang>.tsv`) holding
`lang:token<TAB>TAG` lines and a blank line between sentences.
"""

from __future__ import annotations

from polyglot_kd.data import xtreme
from polyglot_kd.tasks.task import Task
from polyglot_kd.tasks.data import TaskData, sample
from polyglot_kd.tasks.metrics import entity_f1

NAME = "panx"
HUB = "google/xtreme"
LANGUAGES = ("af", "ar", "bg", "bn", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fr", "he", "hi", "hu", "id",
             "it", "ja", "jv", "ka", "kk", "ko", "ml", "mr", "ms", "my", "nl", "pt", "ru", "sw", "ta", "te", "th",
             "tl", "tr", "ur", "vi", "yo", "zh")
LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")


def load(split: str, language: str, source: str = "", limit: int | None = None) -> TaskData:
    source = source or HUB
    if xtreme.is_local(source):
        path = xtreme.find_file(source, f"{language}/{split}", f"{split}-{language}.tsv",
                                what=f"PAN-X {split} file of {language!r}")
        examples = xtreme.read_token_tagged(path, language)
    else:
        examples = xtreme.hub_tagged(source, f"PAN-X.{language}", split, "ner_tags", LABELS)
    return TaskData(NAME, split, language, sample(examples, limit), source)


TASK = Task(NAME, "token-classification", "f1", True,
              "PAN-X / WikiANN named-entity recognition (PER, ORG, LOC), zero-shot from English",
              languages=LANGUAGES, load=load, metrics=entity_f1, labels=LABELS, default_source=HUB)
