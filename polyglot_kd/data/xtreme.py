"""Loading the XTREME tasks' data through `datasets`, from a hub id or from local files in their
published formats (TSV, SQuAD JSON, PAN-X `lang:token<TAB>tag` files, CoNLL-U).

No package registry ships these sets, so nothing here downloads by default: a hub id needs the
hub, local files need the user's copy (`polyglot-kd eval ... --data xnli=DIR`). Local files are
checked first and a malformed one is reported with its line before any training starts.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from polyglot_kd.data.tagged import format_error
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.paths import cache_dir

log = logging.getLogger(__name__)


def is_local(source: str) -> bool:
    """Whether `source` names local files (else it is a hub id, owner/name); a path that does not
    exist is an error rather than a hub look-up."""
    if not source:
        return False
    if Path(source).expanduser().exists():
        return True
    if source.startswith(("/", ".", "~")) or source.count("/") > 1:
        raise PolyglotError(f"data path {source} does not exist (a hub id has the form owner/name)")
    return False


def find_file(root: str | Path, *patterns: str, what: str) -> Path:
    """The first file under `root` (a folder, or the file itself) matching one of the glob patterns."""
    root = Path(root).expanduser()
    if root.is_file():
        return root
    for pattern in patterns:
        hits = sorted(root.rglob(pattern))
        if hits:
            return hits[0]
    raise PolyglotError(f"no {what} under {root} (looked for {', '.join(patterns)})")


def hub(repo: str, config: str | None, split: str):
    """A split of a hub dataset; offline or unknown ids get an error saying how to use local files."""
    import datasets

    try:
        return datasets.load_dataset(repo, config, split=split, cache_dir=str(cache_dir() / "datasets"))
    except Exception as exc:  # ConnectionError, DatasetNotFoundError, ValueError for a bad config ...
        raise PolyglotError(f"could not load {repo!r} (config {config!r}, split {split!r}) from the hub: "
                            f"{type(exc).__name__}: {str(exc)[:300]}; without the hub, pass local files in the "
                            f"published format: --data TASK=PATH") from None


def read_tsv(path: Path, columns: list[str], header: bool = True) -> list[dict]:
    """Rows of a tab-separated file (no quoting), checked line by line, then read through `datasets`.

    header: the first line names the columns and must hold `columns`; else the file has exactly
    len(columns) columns in that order."""
    import datasets

    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not any(line.strip() for line in lines):
        raise format_error(path, None, "the file is empty")
    names = lines[0].split("\t") if header else columns
    missing = [c for c in columns if c not in names]
    if missing:
        raise format_error(path, 1, f"the header lacks column(s) {missing}; it has {names}")
    for number, line in enumerate(lines[1 if header else 0:], 2 if header else 1):
        if line and len(line.split("\t")) != len(names):
            raise format_error(path, number, f"expected {len(names)} tab-separated fields, found {len(line.split(chr(9)))}")
    data = datasets.load_dataset("csv", data_files=str(path), delimiter="\t", quoting=3, split="train",
                                 column_names=None if header else columns, keep_default_na=False,
                                 cache_dir=str(cache_dir() / "datasets"))
    return [{c: str(row[c]) for c in columns} for row in data]


def read_jsonl(path: Path, columns: list[str]) -> list[dict]:
    import datasets

    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise format_error(path, number, f"not JSON: {exc.msg}") from None
            if missing := [c for c in columns if c not in row]:
                raise format_error(path, number, f"missing field(s) {missing}")
    data = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache_dir() / "datasets"))
    return [{c: row[c] for c in columns} for row in data]


def read_squad(path: Path) -> list[dict]:
    """Flat QA examples from a SQuAD v1.1-format file ({"data": [{"title", "paragraphs": [{"context",
    "qas": [{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]}), read through `datasets`."""
    import datasets

    text = Path(path).read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise format_error(path, exc.lineno, f"not JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list) or not doc["data"]:
        raise format_error(path, None, 'expected SQuAD format: {"data": [{"title", "paragraphs": [...]}]}')
    data = datasets.load_dataset("json", data_files=str(path), field="data", split="train",
                                 cache_dir=str(cache_dir() / "datasets"))
    examples = []
    for article in data:
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                answers = qa.get("answers") or []
                if not answers:
                    raise format_error(path, None, f"question {qa.get('id')!r} has no answer")
                for a in answers:
                    if paragraph["context"][a["answer_start"]:a["answer_start"] + len(a["text"])] != a["text"]:
                        raise format_error(path, None, f"question {qa['id']!r}: answer {a['text']!r} is not at "
                                                       f"character {a['answer_start']} of its context")
                examples.append({"id": qa["id"], "question": qa["question"], "context": paragraph["context"],
                                 "answers": {"text": [a["text"] for a in answers],
                                             "answer_start": [a["answer_start"] for a in answers]}})
    return examples


def squad_rows(rows) -> list[dict]:
    """Hub QA rows (id, question, context, answers{text, answer_start}) as plain examples."""
    return [{"id": r["id"], "question": r["question"], "context": r["context"],
             "answers": {"text": list(r["answers"]["text"]), "answer_start": list(r["answers"]["answer_start"])}}
            for r in rows]


def read_token_tagged(path: Path, language: str | None = None) -> list[dict]:
    """PAN-X / WikiANN files as XTREME publishes them: `lang:token<TAB>TAG` lines (the `lang:`
    prefix is dropped), a blank line between sentences."""
    examples, words, labels = [], [], []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines + [""], 1):
        if not line.strip():
            if words:
                examples.append({"words": words, "labels": labels})
            words, labels = [], []
            continue
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0] or not cols[-1]:
            raise format_error(path, number, f"expected 'token<TAB>tag', got {line[:60]!r}")
        token = cols[0]
        if language and token.startswith(f"{language}:"):
            token = token[len(language) + 1:]
        words.append(token)
        labels.append(cols[-1])
    if not examples:
        raise format_error(path, None, "no tagged sentence found")
    return examples


def class_names(data, column: str) -> list[str] | None:
    """Names of a ClassLabel column (or a sequence of them) of a hub dataset."""
    feature = data.features[column]
    feature = getattr(feature, "feature", feature)
    return list(getattr(feature, "names", []) or []) or None


HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def hub_tagged(repo: str, config: str, split: str, column: str, labels: tuple[str, ...]) -> list[dict]:
    """Token-tagged examples ({'words', 'labels'}) of a hub dataset whose `column` holds ClassLabel ids
    (PAN-X, UDPOS); `labels` names the ids when the dataset's features do not."""
    data = hub(repo, config, HUB_SPLITS[split])
    names = class_names(data, column) or list(labels)
    return [{"words": list(r["tokens"]), "labels": [names[t] for t in r[column]]} for r in data]
