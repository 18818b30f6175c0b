"""English extractive-QA training data shared by XQuAD and MLQA: SQuAD v1.1.

Hub: `rajpurkar/squad` (train, validation). Local: `train-v1.1.json` / `dev-v1.1.json` under the
task's data folder.
"""

from __future__ import annotations

from polyglot_kd.data import xtreme
from polyglot_kd.tasks.data import TaskData, sample

SQUAD_HUB = "rajpurkar/squad"


def squad_english(split: str, source: str) -> tuple[list[dict], str]:
    """(examples, where) of SQuAD v1.1 'train' or 'dev' (validation)."""
    if xtreme.is_local(source):
        path = xtreme.find_file(source, f"{'train' if split == 'train' else 'dev'}-v1.1.json",
                                what=f"SQuAD v1.1 {split} file")
        return xtreme.read_squad(path), str(path)
    rows = xtreme.hub(SQUAD_HUB, None, "train" if split == "train" else "validation")
    return xtreme.squad_rows(rows), SQUAD_HUB


def squad_trained_loader(name: str, hub: str, test_file: str, hub_config: str, hub_split: str, what: str):
    """`load` of a task trained on English SQuAD v1.1 and tested on one SQuAD-format file per language
    (XQuAD, MLQA): `test_file`, `hub_config` and `what` are formatted with `language`."""

    def load(split: str, language: str, source: str = "", limit: int | None = None) -> TaskData:
        source = source or hub
        if split != "test":
            examples, where = squad_english(split, source if xtreme.is_local(source) else "")
        elif xtreme.is_local(source):
            path = xtreme.find_file(source, test_file.format(language=language), what=what.format(language=repr(language)))
            examples, where = xtreme.read_squad(path), str(path)
        else:
            rows = xtreme.hub(source, hub_config.format(language=language), hub_split)
            examples, where = xtreme.squad_rows(rows), source
        for ex in examples:
            ex["language"] = language
        return TaskData(name, split, language, sample(examples, limit), where)

    return load
