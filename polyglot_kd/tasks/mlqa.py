"""MLQA: extractive QA with context and question in the same language, 7 languages (F1, EM).

Train on English SQuAD v1.1; test on `test-context-<lang>-question-<lang>.json` (SQuAD format,
MLQA_V1/test/). Hub: `facebook/mlqa`, configs `mlqa.<lang>.<lang>`. Local: a folder holding the
MLQA files and SQuAD's `train-v1.1.json` / `dev-v1.1.json`.
"""

from __future__ import annotations

from polyglot_kd.tasks.task import Task
from polyglot_kd.tasks.metrics import squad
from polyglot_kd.tasks.qa_data import squad_trained_loader

NAME = "mlqa"
HUB = "facebook/mlqa"
LANGUAGES = ("ar", "de", "en", "es", "hi", "vi", "zh")

load = squad_trained_loader(NAME, HUB, "test-context-{language}-question-{language}.json", "mlqa.{language}.{language}", "test",
                            "MLQA test file of {language}")


TASK = Task(NAME, "extractive-qa", "f1", True, "MLQA extractive QA (SQuAD v1.1 English training), zero-shot",
              languages=LANGUAGES, load=load, metrics=squad, default_source=HUB)
