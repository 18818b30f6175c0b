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

from dataclasses import dataclass, field
from pathlib import Path

from polyglot_kd.data import SOURCE_KINDS, bible, catalogs, udhr
from polyglot_kd.data.bible import ParallelSet, distinct_pairs, fixed_sample


@dataclass
class TrainText:
    """What the train role holds, after the test sentences are taken out."""

    pairs: ParallelSet
    counting: dict[str, list[str]]
    """'source' / 'target' -> the sentences counted for the vocabulary."""
    removed: dict[str, int] = field(default_factory=dict)
    """Training items dropped because they are test sentences: {'pairs': n, 'source': n, 'target': n}."""
    dev_held_out: int = 0
    """Training pairs held out as the dev set (no dev source named)."""

    mixed_in: dict[str, int] = field(default_factory=dict)
    """Pairs each mixed-in catalog added (distillation only)."""

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


def _train_parts(config) -> tuple[list, list, dict[str, list[str]]]:
    """Before the test sentences come out: the Bible's pairs, the user's pairs (exact repeats dropped),
    and the counted sentences that are not pairs' sides (the Bible's verses, monolingual text)."""
    c = config.corpus
    bible_pairs: list[tuple[str, str]] = []
    counting: dict[str, list[str]] = {"source": [], "target": []}
    if _bible_serves(config, "train"):
        embedded = bible.parallel(c.source_bible, c.bible, "train")
        bible_pairs = list(zip(embedded.source, embedded.target))
        counting["source"] += bible.verses(c.source_bible, "train")
        counting["target"] += bible.verses(c.bible, "train")
    seen, user_pairs = set(bible_pairs), []
    for index, source in user_sources(config, "train"):
        for s, t in _rows(config, index, source):
            if s is not None and t is not None:
                if (s, t) not in seen:  # a repeated pair adds nothing to distil on
                    seen.add((s, t))
                    user_pairs.append((s, t))
            else:
                counting["source" if t is None else "target"].append(s if t is None else t)
    return bible_pairs, user_pairs, counting


def _test_sides(config) -> dict[str, set[str]]:
    tests = test_sets(config).values()
    return {"source": {s for d in tests for s in d.source}, "target": {t for d in tests for t in d.target}}


def _split_train(config, test: dict[str, set[str]] | None = None) -> tuple[TrainText, list[tuple[str, str]]]:
    """The train role with the test sentences (`test`, default: the config's) out, and the dev pairs
    held out of it (none where a dev source or the Bible's Acts serves as dev)."""
    bible_pairs, user_pairs, counting = _train_parts(config)
    test = _test_sides(config) if test is None else test

    def held_out(pair) -> bool:
        return pair[0] not in test["source"] and pair[1] not in test["target"]

    bible_kept, user_kept = [p for p in bible_pairs if held_out(p)], [p for p in user_pairs if held_out(p)]
    removed = {"pairs": len(bible_pairs) + len(user_pairs) - len(bible_kept) - len(user_kept)}
    dev: list[tuple[str, str]] = []
    if not _has_dev_source(config) and bible_kept + user_kept:
        dev = _held_out_dev(config, bible_kept + user_kept)
        chosen = set(dev)
        bible_kept = [p for p in bible_kept if p not in chosen]
        user_kept = [p for p in user_kept if p not in chosen]
    counted = {side: [x for x in texts if x not in test[side]] for side, texts in counting.items()}
    removed |= {side: len(counting[side]) - len(counted[side]) for side in counting}
    counted["source"] += [s for s, _ in user_kept]  # a parallel source counts its pairs' sides
    counted["target"] += [t for _, t in user_kept]
    return TrainText(_as_set("train", bible_kept + user_kept), counted, removed, len(dev)), dev


def train_text(config) -> TrainText:
    """The train role's pairs and counted sentences, test sentences removed, a dev set held out if needed."""
    return _split_train(config)[0]


def distill_text(config) -> TrainText:
    """What distillation trains on: `train_text` with the `[distill] mixed_domains` catalogs' pairs added
    (repeats, test sentences and dev pairs left out)."""
    if not config.distill.mixed_domains:
        return train_text(config)
    test = _test_sides(config)
    train, dev = _split_train(config, test)
    seen = set(zip(train.pairs.source, train.pairs.target)) | set(dev)
    added, mixed_in = [], {}
    for name in config.distill.mixed_domains:
        before = len(added)
        for pair in catalogs.pairs(name, config.code):
            if pair not in seen and pair[0] not in test["source"] and pair[1] not in test["target"]:
                seen.add(pair)
                added.append(pair)
        mixed_in[name] = len(added) - before
    pairs = list(zip(train.pairs.source, train.pairs.target)) + added
    return TrainText(_as_set("train", pairs), train.counting, train.removed, train.dev_held_out, mixed_in)


def _has_dev_source(config) -> bool:
    return _bible_serves(config, "dev") or bool(user_sources(config, "dev"))


def _held_out_dev(config, train_pairs: list) -> list[tuple[str, str]]:
    """The training pairs that become the dev set where no dev source is named: a fixed sample."""
    candidates = distinct_pairs(train_pairs)
    return fixed_sample(candidates, min(config.corpus.dev_items, max(1, len(candidates) // 10)), seed=0)


def dev_set(config, max_items: int | None = None, seed: int = 0) -> ParallelSet:
    """The dev set (checkpoint curves, the mining threshold)."""
    c = config.corpus
    if not _has_dev_source(config):
        return _as_set("dev", fixed_sample(_split_train(config)[1], max_items, seed))
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
    bible_pairs, user_pairs, counting = _train_parts(config)
    pairs = bible_pairs + user_pairs
    if not pairs and not any(counting.values()):
        return ["corpus: no training text: name a Bible translation (corpus.bible, with 'train' in "
                "corpus.embedded) or a [[corpus.sources]] table with role = 'train'"]
    tests = test_sets(config)
    if not tests:
        return ["corpus: no test set: name a [[corpus.sources]] table with role = 'test' (or a Bible "
                "translation, with 'test' in corpus.embedded)"]
    train_side = {"source": {s for s, _ in pairs} | set(counting["source"]),
                  "target": {t for _, t in pairs} | set(counting["target"])}
    for name, data in tests.items():
        inside = sum(s in train_side["source"] or t in train_side["target"] for s, t in zip(data.source, data.target))
        if not len(data):
            found.append(f"corpus: test set {name!r} holds no pairs")
        elif inside == len(data):
            found.append(f"corpus: every one of the {len(data):,} pairs of test set {name!r} also occurs in the "
                         "training text; expected held-out sentences (is the test file the training file?)")
    if not found:
        text = train_text(config)
        if not len(text.pairs) and not any(text.counting.values()):
            found.append("corpus: nothing is left of the training text once the test sentences are removed")
    return found
