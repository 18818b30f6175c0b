"""XQuAD: SQuAD v1.1 dev questions translated into 11 languages (F1, exact match beside it).

Train on English SQuAD v1.1, select on its dev set, test on `xquad.<lang>.json` (SQuAD format).
Hub: `google/xquad`, configs `xquad.<lang>` (a single 'validation' split). Local: a folder holding
`xquad.<lang>.json`, `train-v1.1.json` and `dev-v1.1.json`.
"""

from __future__ import annotations

from polyglot_kd.tasks.task import Task
from polyglot_kd.tasks.metrics import squad
from polyglot_kd.tasks.qa_data import squad_trained_loader

NAME = "xquad"
HUB = "google/xquad"
LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")

load = squad_trained_loader(NAME, HUB, "xquad.{language}.json", "xquad.{language}", "validation", "XQuAD file of {language}")


TASK = Task(NAME, "extractive-qa", "f1", True, "XQuAD extractive QA (SQuAD v1.1 English training), zero-shot",
              languages=LANGUAGES, load=load, metrics=squad, default_source=HUB)
