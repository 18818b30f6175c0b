"""XQuAD: SQuAD v1.1 dev questions translated into 11 languages (F1, exact match beside it).

Train on English SQuAD v1.1, select on its dev set, test on `xquad.<lang>.json` (SQuAD format).
Hub: `google/xquad`, configs `xquad.<lang>` (a single 'validation' split). Local: a folder holding
`xquad.<lang>.json`, `train-v1.1.json` and `dev-v1.1.json`.
"""

from __future__ import annotations

from polyglot_kd.data import xtreme
from polyglot_kd.tasks import Task, register
from polyglot_kd.tasks.data import TaskData, sample
from polyglot_kd.tasks.metrics import squad
from polyglot_kd.tasks.qa_data import squad_english

NAME = "xquad"
HUB = "google/xquad"
LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")


def load(split: str, language: str, source: str = "", limit: int | None = None) -> TaskData:
    source = source or HUB
    if split != "test":
        examples, where = squad_english(split, source if xtreme.is_local(source) else "")
    elif xtreme.is_local(source):
        path = xtreme.find_file(source, f"xquad.{language}.json", what=f"XQuAD file of {language!r}")
        examples, where = xtreme.read_squad(path), str(path)
    else:
        examples, where = xtreme.squad_rows(xtreme.hub(source, f"xquad.{language}", "validation")), source
    for ex in examples:
        ex["language"] = language
    return TaskData(NAME, split, language, sample(examples, limit), where)


register(Task(NAME, "extractive-qa", "f1", True, "XQuAD extractive QA (SQuAD v1.1 English training), zero-shot",
              languages=LANGUAGES, load=load, metrics=squad, default_source=HUB))
