"""The one place the stages get their text from: train, dev and test per `[corpus]`.

Each role is the embedded Bible's split (where `corpus.bible` names a translation and `corpus.embedded`
lists the role; the UDHR joins the test sets) plus the user's `[[corpus.sources]]` of that role.
- train: the parallel pairs (exact duplicates dropped) that distillation reads, and per side the
  sentences counted for the vocabulary (the Bible's: every usable verse of the side; a parallel source:
  its pairs' sides; a monolingual source: its side). Any sentence that is also a test sentence of the
  same side is removed from both, and the count reported.
- dev: the Bible's Acts and the dev sources; where there is neither, `corpus.dev_items` training pairs
  (a fixed sample) are held out of training instead.
- test: one set per source, named after it, beside 'bible-test' and 'udhr', and one per
  `[eval] held_out_domains` catalog ('<name>-messages').
- distillation: the train pairs plus the `[distill] mixed_domains` catalogs' pairs, test sentences out
  (`distill_text`); counting for the vocabulary reads the corpus alone.
Dev and test sets drop pairs that repeat a sentence of either side (one gold partner per sentence).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from array import array
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from polyglot_kd.core.files import write_json_atomic
from polyglot_kd.core.paths import cache_dir
from polyglot_kd.data import SOURCE_KINDS, bible, catalogs, udhr
from polyglot_kd.data.arrow_pairs import CHUNK, ArrowWriter, PairFile, TextColumn, open_pairs, write_pairs
from polyglot_kd.data.bible import ParallelSet, distinct_pairs, fixed_sample

log = logging.getLogger(__name__)

SIDES = ("source", "target")
PAIRS_FILE, COUNTED_FILE, DEV_FILE = "pairs.arrow", "counted-{side}.arrow", "dev-held-out.arrow"
DIGESTS_FILE, RECORD_FILE = "pair-digests.npy", "corpus.json"


@dataclass
class TrainText:
    """What the train role holds, after the test sentences are taken out."""

    pairs: ParallelSet | PairFile
    counting: dict[str, list[str] | TextColumn]
    """'source' / 'target' -> the sentences counted for the vocabulary."""
    removed: dict[str, int] = field(default_factory=dict)
    """Training items dropped because they are test sentences: {'pairs': n, 'source': n, 'target': n}."""
    dev_held_out: int = 0
    """Training pairs held out as the dev set (no dev source named)."""

    mixed_in: dict[str, int] = field(default_factory=dict)
    """Pairs each mixed-in catalog added (distillation only)."""
    folder: Path | None = None
    """Where `train_files` keeps this corpus's files (None for lists)."""

    def record(self) -> dict:
        """For a stage's manifest."""
        return {"training_pairs": len(self.pairs), "test_overlap_removed": self.removed,
                "dev_held_out_of_train": self.dev_held_out} | ({"mixed_in": self.mixed_in} if self.mixed_in else {})


def _where(index: int, source) -> str:
    return f"corpus.sources[{index}] ({source.kind} {source.role} {source.label()!r})"


def _languages(config) -> tuple[str, str]:
    return config.source, config.code


def user_sources(config, role: str) -> list[tuple[int, object]]:
    return [(i, s) for i, s in enumerate(config.corpus.sources) if s.role == role]


def _rows(config, index: int, source):
    return SOURCE_KINDS.get(source.kind).rows(source, _languages(config), _where(index, source))


def _bible_serves(config, role: str) -> bool:
    return bool(config.corpus.bible) and role in config.corpus.embedded


def _pairs(rows) -> list[tuple[str, str]]:
    return [(s, t) for s, t in rows if s is not None and t is not None]


def _as_set(name: str, pairs: list[tuple[str, str]]) -> ParallelSet:
    return ParallelSet(name, [p[0] for p in pairs], [p[1] for p in pairs])


def test_sets(config, max_items: int | None = None, seed: int = 0) -> dict[str, ParallelSet]:
    """Every held-out set by name; `max_items` samples each set but the UDHR (all its units are used)."""
    c = config.corpus
    sets = {}
    if _bible_serves(config, "test"):
        sets["bible-test"] = bible.parallel(c.source_bible, c.bible, "test", max_items, seed)
    if c.udhr and "test" in c.embedded:
        sets["udhr"] = udhr.parallel(c.source_udhr, c.udhr)
    for index, source in user_sources(config, "test"):
        pairs = fixed_sample(distinct_pairs(_pairs(_rows(config, index, source))), max_items, seed)
        sets[source.label()] = _as_set(source.label(), pairs)
    for name in config.eval.held_out_domains:
        if found := catalogs.pairs(name, config.code, min_words=3):
            sets[f"{name}-messages"] = _as_set(f"{name}-messages", fixed_sample(distinct_pairs(list(found)), max_items, seed))
    return sets


def _test_sides(config) -> dict[str, set[str]]:
    tests = test_sets(config).values()
    return {"source": {s for d in tests for s in d.source}, "target": {t for d in tests for t in d.target}}


def _digest(*texts: str) -> int:
    """A stable 64-bit digest of a pair or sentence: what repeats and overlaps are found by, so that a
    corpus of millions of pairs is checked with 8 bytes a pair instead of sets of its sentences."""
    return int.from_bytes(hashlib.blake2b("\x1f".join(texts).encode(), digest_size=8).digest(), "little", signed=True)


def _train_rows(config) -> Iterator[tuple[str, str | None, str | None]]:
    """The train role in order, before anything is dropped: ('bible', s, t) for the Bible's pairs, then
    ('verse', side, text) for its verses (all counted), then each user source's rows as ('user', s, t)
    (a monolingual row has None on its missing side)."""
    c = config.corpus
    if _bible_serves(config, "train"):
        embedded = bible.parallel(c.source_bible, c.bible, "train")
        for s, t in zip(embedded.source, embedded.target):
            yield "bible", s, t
        for side, code in (("source", c.source_bible), ("target", c.bible)):
            for verse in bible.verses(code, "train"):
                yield "verse", side, verse
    for index, source in user_sources(config, "train"):
        for s, t in _rows(config, index, source):
            yield "user", s, t


def _write_train(config, folder: Path) -> dict:
    """Stream the train role into `folder` (see `train_files`), holding a digest per pair, not the text:
    exact repeats of a user pair are dropped (the Bible's pairs are distinct already), test sentences
    are removed and counted, a dev set is held out where no dev source is named."""
    test = _test_sides(config)
    raw_path = folder / "raw-pairs.arrow"
    digests, from_user, in_test = array("q"), array("b"), array("b")
    removed = {"source": 0, "target": 0}
    found_in_train: dict[str, set[str]] = {"source": set(), "target": set()}  # test sentences the train text holds
    with ExitStack() as open_files:
        counted = {side: open_files.enter_context(ArrowWriter(folder / COUNTED_FILE.format(side=side), ("text",)))
                   for side in SIDES}
        with ArrowWriter(raw_path) as raw:
            for kind, first, second in _train_rows(config):
                if kind != "verse" and first is not None and second is not None:
                    hit = False
                    for side, text in zip(SIDES, (first, second)):
                        if text in test[side]:
                            found_in_train[side].add(text)
                            hit = True
                    raw.add((first, second))
                    digests.append(_digest(first, second))
                    from_user.append(kind == "user")
                    in_test.append(hit)
                    continue
                side, text = (first, second) if kind == "verse" else (("source", first) if second is None else ("target", second))
                if text in test[side]:
                    found_in_train[side].add(text)
                    removed[side] += 1
                else:
                    counted[side].add((text,))
        digests_np = np.frombuffer(digests, dtype=np.int64)
        test_rows = np.frombuffer(in_test, dtype=bool)
        keep = np.zeros(len(digests_np), dtype=bool)
        keep[np.unique(digests_np, return_index=True)[1]] = True  # the first of each repeated pair
        removed["pairs"] = int((keep & test_rows).sum())
        keep &= ~test_rows
        raw_pairs = open_pairs(raw_path)
        dev = _held_out_dev(config, raw_pairs, np.flatnonzero(keep)) if not _has_dev_source(config) else []
        if dev:
            keep &= ~np.isin(digests_np, [_digest(s, t) for s, t in dev])
        write_pairs(dev, folder / DEV_FILE)
        kept = np.flatnonzero(keep)
        user_rows = np.frombuffer(from_user, dtype=bool)
        with ArrowWriter(folder / PAIRS_FILE) as pairs:
            for start in range(0, len(kept), CHUNK):
                block = kept[start:start + CHUNK]
                rows = raw_pairs[block.tolist()]
                for i, s, t in zip(block, rows["source"], rows["target"]):
                    pairs.add((s, t))
                    if user_rows[i]:  # a parallel source counts its pairs' sides (the Bible's verses are counted)
                        counted["source"].add((s,))
                        counted["target"].add((t,))
    np.save(folder / DIGESTS_FILE, digests_np[kept])
    raw_path.unlink()
    return {"training_pairs": len(kept), "test_overlap_removed": removed, "dev_held_out_of_train": len(dev),
            "test_sentences_in_train": {side: sorted(found) for side, found in found_in_train.items()}}


def corpus_dir() -> Path:
    """Where streamed corpora live: one folder per corpus fingerprint, shared by every build, check and
    stage that reads the same text."""
    return cache_dir() / "corpora"


def train_files(config, folder: Path | None = None) -> TrainText:
    """The train role, memory-mapped from Arrow files: the pairs, the sentences counted for the
    vocabulary per side, the dev pairs held out of training (if any) and what was dropped. Written once
    per corpus, into a subfolder of `folder` (default: `corpus_dir()`) named by the corpus's fingerprint
    and renamed into place when complete, and read from there after; a changed source file gives a new
    fingerprint."""
    # what the role depends on: the corpus, the test sets taken out of it (the held-out catalogs too)
    fingerprint_json = json.dumps({"corpus": fingerprint(config), "held_out_domains": config.eval.held_out_domains,
                                   "languages": _languages(config), "format": 1}, sort_keys=True, default=str)
    final = Path(folder or corpus_dir()) / hashlib.sha256(fingerprint_json.encode()).hexdigest()[:16]
    if not (final / RECORD_FILE).is_file():
        partial = final.with_name(f"{final.name}.{os.getpid()}.partial")  # one per writer: two never collide
        for left in final.parent.glob(f"{final.name}.*.partial"):  # ours, or a dead writer's
            if left == partial or not _alive(int(left.name.split(".")[1])):
                shutil.rmtree(left, ignore_errors=True)
        partial.mkdir(parents=True)
        log.info("streaming the %s training text to %s", config.code, final)
        record = _write_train(config, partial)
        write_json_atomic(partial / RECORD_FILE, record | {"inputs": json.loads(fingerprint_json)})
        try:
            partial.rename(final)
        except OSError:  # another process finished the same corpus first: keep its files
            shutil.rmtree(partial, ignore_errors=True)
    record = json.loads((final / RECORD_FILE).read_text())
    return TrainText(PairFile(final / PAIRS_FILE), {side: TextColumn(open_pairs(final / COUNTED_FILE.format(side=side)))
                                                    for side in SIDES},
                     record["test_overlap_removed"], record["dev_held_out_of_train"], folder=final)


def _dev_pairs(folder: Path) -> list[tuple[str, str]]:
    """The dev pairs `train_files` held out of training (none where a dev source is named)."""
    held_out = open_pairs(folder / DEV_FILE)[:]
    return list(zip(held_out["source"], held_out["target"]))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _in_memory(text: TrainText) -> TrainText:
    pairs = text.pairs.dataset
    return TrainText(ParallelSet("train", pairs["source"], pairs["target"]),
                     {side: list(column) for side, column in text.counting.items()},
                     text.removed, text.dev_held_out, dict(text.mixed_in))


def train_text(config) -> TrainText:
    """The train role as lists (for the stages that need the sentences themselves: tokenizer and
    word-vector training, stacking, the export); what `train_files` streams to disk, read back."""
    return _in_memory(train_files(config))


def distill_files(config, folder: Path | None = None) -> TrainText:
    """What distillation trains on: `train_files` with the `[distill] mixed_domains` catalogs' pairs
    after its pairs (repeats, test sentences and dev pairs left out); counting reads the corpus alone."""
    import datasets

    train = train_files(config, folder)
    if not config.distill.mixed_domains:
        return train
    test = _test_sides(config)
    # the training pairs' digests stay an array (8 bytes a pair); the few thousand catalog pairs are looked up in it
    held_out = np.array([_digest(*pair) for pair in _dev_pairs(train.folder)], dtype=np.int64)
    trained = np.concatenate([np.load(train.folder / DIGESTS_FILE), held_out])
    seen: set[int] = set()  # the catalogs' own pairs, so that one repeated across catalogs is added once
    added, mixed_in = [], {}
    for name in config.distill.mixed_domains:
        before = len(added)
        pairs = [p for p in catalogs.pairs(name, config.code) if p[0] not in test["source"] and p[1] not in test["target"]]
        digests = [_digest(*pair) for pair in pairs]
        for pair, digest, trained_on in zip(pairs, digests, np.isin(np.array(digests, dtype=np.int64), trained)):
            if not trained_on and digest not in seen:
                seen.add(digest)
                added.append(pair)
        mixed_in[name] = len(added) - before
    extra = datasets.Dataset.from_dict({"source": [s for s, _ in added], "target": [t for _, t in added]})
    both = datasets.concatenate_datasets([train.pairs.dataset, extra.cast(train.pairs.dataset.features)])
    return TrainText(PairFile(train.pairs.path, "train", dataset=both), train.counting, train.removed,
                     train.dev_held_out, mixed_in, folder=train.folder)


def distill_text(config) -> TrainText:
    """`distill_files` as lists."""
    return _in_memory(distill_files(config))


def has_pairs(config) -> bool:
    """Whether the train role has a parallel pair (what distillation needs), reading no further than the first."""
    return any(kind != "verse" and s is not None and t is not None for kind, s, t in _train_rows(config))


def _has_dev_source(config) -> bool:
    return _bible_serves(config, "dev") or bool(user_sources(config, "dev"))


def _held_out_dev(config, pairs, kept: np.ndarray) -> list[tuple[str, str]]:
    """The training pairs (rows `kept` of `pairs`) that become the dev set where no dev source is named: a
    fixed sample, drawn in a seeded order and kept while no sentence of either side repeats."""
    size = min(config.corpus.dev_items, max(1, len(kept) // 10))
    order = random.Random(0).sample(range(len(kept)), min(len(kept), 2 * size))
    candidates = pairs[kept[order].tolist()] if order else {"source": [], "target": []}
    position = dict(zip(zip(candidates["source"], candidates["target"]), order))  # kept rows are distinct pairs
    return sorted(distinct_pairs(position)[:size], key=position.__getitem__)  # in the corpus's order


def dev_set(config, max_items: int | None = None, seed: int = 0) -> ParallelSet:
    """The dev set (checkpoint curves, the mining threshold)."""
    c = config.corpus
    if not _has_dev_source(config):
        return _as_set("dev", fixed_sample(_dev_pairs(train_files(config).folder), max_items, seed))
    pairs = []
    if _bible_serves(config, "dev"):
        embedded = bible.parallel(c.source_bible, c.bible, "dev")
        pairs += zip(embedded.source, embedded.target)
    for index, source in user_sources(config, "dev"):
        pairs += _pairs(_rows(config, index, source))
    name = "bible-dev" if not user_sources(config, "dev") else "dev"
    return _as_set(name, fixed_sample(distinct_pairs(pairs), max_items, seed))


def fingerprint(config) -> dict:
    """What the corpus is, for a stage's inputs: the config, and each user file's size and modification time
    (a changed file redoes the stages that read it)."""
    files = {}
    for source in config.corpus.sources:
        for p in [source.path, *source.paths]:
            path = Path(p) if p else None
            if path is None or not path.exists():
                continue
            members = sorted(q for q in path.rglob("*") if q.is_file()) if path.is_dir() else [path]
            files[p] = [(str(q), q.stat().st_size, q.stat().st_mtime_ns) for q in members]
    corpus = {k: v for k, v in vars(config.corpus).items() if k != "sources"}
    return corpus | {"sources": [vars(s) for s in config.corpus.sources], "files": files}


def problems(config) -> list[str]:
    """Every problem with the user's sources and the roles they make up, before any work."""
    found = []
    for index, source in enumerate(config.corpus.sources):
        found += SOURCE_KINDS.get(source.kind).problems(source, _languages(config), _where(index, source))
    if found:
        return found  # the roles below cannot be read
    tests = test_sets(config)
    train = train_files(config)  # the one pass that reads everything, kept for the stages
    record = json.loads((train.folder / RECORD_FILE).read_text())
    sizes = {"pairs": len(train.pairs)} | {side: len(column) for side, column in train.counting.items()}
    removed = record["test_overlap_removed"]
    if not sum(sizes.values()) + sum(removed.values()) + train.dev_held_out:
        return ["corpus: no training text: name a Bible translation (corpus.bible, with 'train' in "
                "corpus.embedded) or a [[corpus.sources]] table with role = 'train'"]
    if not tests:
        return ["corpus: no test set: name a [[corpus.sources]] table with role = 'test' (or a Bible "
                "translation, with 'test' in corpus.embedded)"]
    inside_train = {side: set(texts) for side, texts in record["test_sentences_in_train"].items()}
    for name, data in tests.items():
        inside = sum(s in inside_train["source"] or t in inside_train["target"] for s, t in zip(data.source, data.target))
        if not len(data):
            found.append(f"corpus: test set {name!r} holds no pairs")
        elif inside == len(data):
            found.append(f"corpus: every one of the {len(data):,} pairs of test set {name!r} also occurs in the "
                         "training text; expected held-out sentences (is the test file the training file?)")
    if not found and not sum(sizes.values()):
        found.append("corpus: nothing is left of the training text once the test sentences are removed")
    return found
