"""English extractive-QA training data shared by XQuAD and MLQA: SQuAD v1.1.

Hub: `rajpurkar/squad` (train, validation). Local: `train-v1.1.json` / `dev-v1.1.json` under the
task's data folder.
"""

from __future__ import annotations

from polyglot_kd.data import xtreme

SQUAD_HUB = "rajpurkar/squad"


def squad_english(split: str, source: str) -> tuple[list[dict], str]:
    """(examples, where) of SQuAD v1.1 'train' or 'dev' (validation)."""
    if xtreme.is_local(source):
        path = xtreme.find_file(source, f"{'train' if split == 'train' else 'dev'}-v1.1.json",
                                what=f"SQuAD v1.1 {split} file")
        return xtreme.read_squad(path), str(path)
    rows = xtreme.hub(SQUAD_HUB, None, "train" if split == "train" else "validation")
    return xtreme.squad_rows(rows), SQUAD_HUB
