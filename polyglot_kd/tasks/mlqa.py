"""MLQA: extractive QA with context and question in the same language, 7 languages (F1, EM).

Train on English SQuAD v1.1; test on `test-context-<lang>-question-<lang>.json` (SQuAD format,
MLQA_V1/test/). Hub: `facebook/mlqa`, configs `mlqa.<lang>.<lang>`. Local: a folder holding the
MLQA files and SQuAD's `train-v1.1.json` / `dev-v1.1.json`.
"""

from __future__ import annotations

from polyglot_kd.data import xtreme
from polyglot_kd.tasks import Task, register
from polyglot_kd.tasks.data import TaskData, sample
from polyglot_kd.tasks.metrics import squad
from polyglot_kd.tasks.qa_data import squad_english

NAME = "mlqa"
HUB = "facebook/mlqa"
LANGUAGES = ("ar", "de", "en", "es", "hi", "vi", "zh")


def load(split: str, language: str, source: str = "", limit: int | None = None) -> TaskData:
    source = source or HUB
    if split != "test":
        examples, where = squad_english(split, source if xtreme.is_local(source) else "")
    elif xtreme.is_local(source):
        path = xtreme.find_file(source, f"test-context-{language}-question-{language}.json",
                                what=f"MLQA test file of {language!r}")
        examples, where = xtreme.read_squad(path), str(path)
    else:
        examples, where = xtreme.squad_rows(xtreme.hub(source, f"mlqa.{language}.{language}", "test")), source
    for ex in examples:
        ex["language"] = language
    return TaskData(NAME, split, language, sample(examples, limit), where)


register(Task(NAME, "extractive-qa", "f1", True, "MLQA extractive QA (SQuAD v1.1 English training), zero-shot",
              languages=LANGUAGES, load=load, metrics=squad, default_source=HUB))
