"""`polyglot-kd init CODE`: a new language file in the user's language folder, naming the given sources.

The file is checked as a build would check it (config, then every source read through) before it is
written, so a file `init` wrote is one `polyglot-kd build CODE` accepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from polyglot_kd.config import check_code, parse_config, resolve_source_paths, user_languages_dir
from polyglot_kd.core.errors import ConfigError, PolyglotError
from polyglot_kd.core.files import write_text_atomic
from polyglot_kd.pipeline.checks import corpus_problems
from polyglot_kd.sources.teacher_languages import XLMR_LANGUAGES, teacher_reads


@dataclass
class NewLanguage:
    """What the command line gave `init`."""

    code: str
    name: str = ""
    teacher: str = ""
    bible: str = ""
    udhr: str = ""
    sources: list[dict] = field(default_factory=list)
    """[[corpus.sources]] tables, paths as given."""


def aligned(role: str, pair: list[str]) -> dict:
    return {"role": role, "kind": "aligned", "paths": pair}


def dataset_sources(path: str, columns: list[str], splits: list[str]) -> list[dict]:
    """One source per split: train, then dev, then test (as many as `splits` names)."""
    roles = ("train", "dev", "test")
    return [{"role": role, "kind": "dataset", "path": path, "columns": columns, "split": split}
            | ({"name": f"{Path(path.rstrip('/')).name}-{split}"} if role == "test" else {})
            for role, split in zip(roles, splits)]


def saved_splits(path: str) -> list[str]:
    """train[, dev][, test] split names of a `save_to_disk` DatasetDict folder ('validation' or 'dev' as dev),
    or ['train'] for anything else."""
    listing = Path(path) / "dataset_dict.json"
    if not listing.is_file():
        return ["train"]
    splits = json.loads(listing.read_text()).get("splits", [])
    dev = next((name for name in ("validation", "dev") if name in splits), None)
    if "test" in splits and dev is None:
        return ["train"]  # a test split without a dev split: say it with --splits
    return ["train"] + ([dev] if dev else []) + (["test"] if "test" in splits else [])


def _absolute(source: dict) -> dict:
    """Files as absolute paths, so the language file reads the same from any folder; a dataset path that is
    not a local file or folder stays as given (a hub id)."""
    out = dict(source)
    out["paths"] = [str(Path(p).resolve()) for p in source.get("paths", [])]
    if not out["paths"]:
        del out["paths"]
    if "path" in source and (source["kind"] != "dataset" or Path(source["path"]).exists()):
        out["path"] = str(Path(source["path"]).resolve())
    return out


def _toml_value(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def render(data: dict) -> str:
    """The language file: top-level keys, [corpus], then one [[corpus.sources]] per source."""
    lines = [f"# {data.get('name') or data['code']}: written by `polyglot-kd init`; only what differs from the "
             "defaults (polyglot_kd/config.py, docs/corpora.md)."]
    lines += [f"{k} = {_toml_value(v)}" for k, v in data.items() if k not in ("code", "corpus")]
    corpus = data["corpus"]
    lines += ["", "[corpus]"] + [f"{k} = {_toml_value(v)}" for k, v in corpus.items() if k != "sources"]
    for source in corpus["sources"]:
        lines += ["", "[[corpus.sources]]"] + [f"{k} = {_toml_value(v)}" for k, v in source.items()]
    return "\n".join(lines) + "\n"


def init_language(request: NewLanguage, force: bool = False) -> Path:
    """Write `<user folder>/<code>.toml` for `request`; refuse a bad code, a language the teacher does
    not read, a file that exists (unless `force`) and sources that do not read cleanly."""
    code = request.code
    check_code(code)
    if not teacher_reads(code):
        raise PolyglotError(f"language code {code!r}: the XLM-R based teacher did not read this language in "
                            f"pretraining; expected one of its {len(XLMR_LANGUAGES)} languages: "
                            f"{', '.join(sorted(XLMR_LANGUAGES))} (region/script subtags allowed, e.g. pt-BR)")
    folder = user_languages_dir()
    path = folder / f"{code}.toml"
    if path.exists() and not force:
        raise PolyglotError(f"{path} exists; pass --force to overwrite it")
    if not request.sources and not request.bible:
        raise PolyglotError("init: no text named; give --parallel SOURCE TARGET (and --test SOURCE TARGET), "
                            "--dataset PATH_OR_ID --columns SRC,TGT, or --bible CODE")
    corpus: dict = {"embedded": ["train", "dev", "test"] if request.bible else []}
    if request.bible:
        corpus["bible"] = request.bible
    if request.udhr:
        corpus["udhr"] = request.udhr
    corpus["sources"] = [_absolute(s) for s in request.sources]
    data = {"code": code} | {k: v for k, v in (("name", request.name), ("teacher", request.teacher)) if v}
    data["corpus"] = corpus
    config = parse_config(json.loads(json.dumps(data)), source=f"the {code} language file `init` would write")
    resolve_source_paths(config, folder)
    if problems := corpus_problems(config):
        raise ConfigError(f"the sources given to `init {code}`", problems)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, render(data))
    return path
