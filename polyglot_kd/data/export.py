"""Write a language's train / dev / test text as aligned plain-text files, for `init` to read back.

The files hold exactly what the stages read: the training pairs, and per side the counted sentences that
are not a pair's side (the Bible counts every usable verse of a side, also those without a partner or
repeated), so a build from the files counts the same tokens and keeps the same vocabulary.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.files import write_text_atomic
from polyglot_kd.data import corpora
from polyglot_kd.data.bible import ParallelSet

TEST_FILE_NAMES = {"bible-test": "gospels"}  # a file set named like an embedded one would read as the same set


def _write_lines(path: Path, lines: list[str]) -> None:
    write_text_atomic(path, "".join(f"{line}\n" for line in lines))


def _leftover(counted: list[str], paired: list[str]) -> list[str]:
    """`counted` less one occurrence of each of `paired` (multiset difference), in `counted`'s order."""
    owed = Counter(paired)
    rest = []
    for text in counted:
        if owed[text]:
            owed[text] -= 1
        else:
            rest.append(text)
    return rest


def export_corpus(config, folder: Path, force: bool = False) -> dict[str, list[Path]]:
    """Write `<stem>.<lang>.txt` files into `folder`; returns {role: [files]} ('train-source-only' and
    'train-target-only': the monolingual leftovers)."""
    folder = Path(folder)
    source, target = config.source, config.code
    train = corpora.train_text(config)
    sets: dict[str, tuple[str, ParallelSet]] = {"train": ("train", train.pairs), "dev": ("dev", corpora.dev_set(config))}
    for name, data in corpora.test_sets(config).items():
        sets[f"test:{name}"] = ("test", ParallelSet(name, data.source, data.target))
    planned: dict[Path, list[str]] = {}
    roles: dict[str, list[Path]] = {}
    for key, (role, data) in sets.items():
        stem = TEST_FILE_NAMES.get(data.name, data.name) if role == "test" else role
        pair = [folder / f"{stem}.{source}.txt", folder / f"{stem}.{target}.txt"]
        planned |= {pair[0]: data.source, pair[1]: data.target}
        roles.setdefault(role, []).extend(pair)
    for side, lang, paired in (("source", source, train.pairs.source), ("target", target, train.pairs.target)):
        rest = _leftover(train.counting[side], paired)
        if rest:
            path = folder / f"train-only.{lang}.txt"
            planned[path] = rest
            roles[f"train-{side}-only"] = [path]
    if not force and (existing := [str(p) for p in planned if p.exists()]):
        raise PolyglotError(f"{', '.join(existing)} exist(s); pass --force to overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    for path, lines in planned.items():
        _write_lines(path, lines)
    return roles
