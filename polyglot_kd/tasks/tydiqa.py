"""TyDiQA-GoldP: extractive QA with the gold passage, 9 typologically diverse languages (F1, EM).

As XTREME: train on the English part of the TyDiQA-GoldP training set, test on each language's part
of its dev set. Examples are told apart by their id prefix ("english-...", "swahili-...").
Hub: `google-research-datasets/tydiqa`, config `secondary_task`. Local, as published:
`tydiqa-goldp-v1.1-train.json` and `tydiqa-goldp-v1.1-dev.json` (SQuAD format).
"""

from __future__ import annotations

from polyglot_kd.data import xtreme
from polyglot_kd.tasks.task import Task
from polyglot_kd.tasks.data import TaskData, sample
from polyglot_kd.tasks.metrics import squad

NAME = "tydiqa"
HUB = "google-research-datasets/tydiqa"
NAMES = {"ar": "arabic", "bn": "bengali", "en": "english", "fi": "finnish", "id": "indonesian", "ko": "korean",
         "ru": "russian", "sw": "swahili", "te": "telugu"}
LANGUAGES = tuple(sorted(NAMES))
DEV_SHARE = 10  # every 10th English training question is English dev (the dev file is the test set)


def load(split: str, language: str, source: str = "", limit: int | None = None) -> TaskData:
    source = source or HUB
    part = "train" if split in ("train", "dev") else "dev"
    if xtreme.is_local(source):
        path = xtreme.find_file(source, f"tydiqa-goldp-v1.1-{part}.json", what=f"TyDiQA-GoldP {part} file")
        examples, where = xtreme.read_squad(path), str(path)
    else:
        rows = xtreme.hub(source, "secondary_task", "train" if part == "train" else "validation")
        examples, where = xtreme.squad_rows(rows), source
    lang = "en" if split in ("train", "dev") else language
    examples = [ex for ex in examples if ex["id"].startswith(f"{NAMES[lang]}-")]
    if split != "test":
        examples = [ex for i, ex in enumerate(examples) if (i % DEV_SHARE == 0) == (split == "dev")]
    for ex in examples:
        ex["language"] = lang
    return TaskData(NAME, split, lang, sample(examples, limit), where)


TASK = Task(NAME, "extractive-qa", "f1", True, "TyDiQA-GoldP extractive QA (English TyDiQA training), zero-shot",
              languages=LANGUAGES, load=load, metrics=squad, default_source=HUB)
