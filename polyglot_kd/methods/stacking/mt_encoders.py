"""Machine-translation encoders for stacking: the embedded en<->pt Marian pair, or a Hugging Face model.

``load_mt_encoder(spec)`` takes

- ``embedded:en-pt`` (reads English) or ``embedded:pt-en`` (reads Portuguese): the tiny Firefox
  Translations models ported in :mod:`polyglot_kd.methods.stacking.marian.port`; ``embedded`` alone picks the one that
  reads the language asked for;
- a hub id or a local directory of a Marian (OPUS-MT), M2M100 or NLLB model, loaded with
  ``AutoModelForSeq2SeqLM`` and cut to ``get_encoder()``;
- a directory written by :func:`polyglot_kd.methods.stacking.marian.port.save_pretrained` or :meth:`MTEncoder.save`.

It returns an :class:`MTEncoder`: the frozen encoder, its tokenizer, the width of its states and the
languages it reads (ISO 639-1 codes), with clear errors for a language it does not read and for a
tokenizer that does not belong to the model.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from polyglot_kd.methods.stacking.marian import port as marian_model
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.loading import parameter_count
from polyglot_kd.sources.marian import EMBEDDED_MT, embedded_mt, resolve_embedded_mt

log = logging.getLogger(__name__)

EMBEDDED_PREFIX = "embedded"
SAVED_INFO = "mt_encoder.json"

# ISO 639-1 -> NLLB-200 (FLORES-200) code, for the languages this project ships and their neighbours;
# an NLLB code itself (e.g. "por_Latn") is accepted too.
NLLB_CODES = {
    "en": "eng_Latn", "pt": "por_Latn", "sw": "swh_Latn", "de": "deu_Latn", "fr": "fra_Latn", "es": "spa_Latn",
    "ru": "rus_Cyrl", "ar": "arb_Arab", "hi": "hin_Deva", "vi": "vie_Latn", "tr": "tur_Latn", "it": "ita_Latn",
    "id": "ind_Latn", "uk": "ukr_Cyrl", "pl": "pol_Latn", "ro": "ron_Latn", "fa": "pes_Arab", "bn": "ben_Beng",
    "zh": "zho_Hans", "ja": "jpn_Jpan", "ko": "kor_Hang", "tl": "tgl_Latn", "nl": "nld_Latn", "cs": "ces_Latn",
}
_NLLB_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
_OPUS_NAME = re.compile(r"opus-mt-(?:tc-[a-z]+-)?([a-z]{2,3})-")


@dataclass
class MTEncoder:
    """A frozen MT encoder with its tokenizer; ``encoder(input_ids, attention_mask).last_hidden_state``
    has shape (batch, tokens, width)."""

    spec: str
    kind: str  # "embedded", "marian", "m2m100" or "nllb"
    encoder: nn.Module
    tokenizer: object
    width: int
    languages: tuple[str, ...]
    lang_codes: dict[str, str] = field(default_factory=dict)  # ISO code -> the tokenizer's code (multilingual)
    model: nn.Module | None = field(default=None, repr=False)  # the whole seq2seq model (HF), for saving

    def __post_init__(self):
        self.encoder.eval().requires_grad_(False)

    def reads(self, language: str) -> bool:
        return language in self.languages

    def check_language(self, language: str) -> None:
        if not self.reads(language):
            raise PolyglotError(
                f"the MT encoder {self.spec} ({self.kind}) does not read {language!r}; it reads: "
                f"{', '.join(self.languages) or 'no known language'}"
                + (f" (the embedded pair: {', '.join(f'{EMBEDDED_PREFIX}:{n}' for n in EMBEDDED_MT)}; for other languages"
                   " name an NLLB or M2M100 model)" if self.kind == "embedded" else ""))

    def tokenize(self, texts: list[str], language: str, max_length: int = 128):
        """Token ids and attention mask of `texts` read as `language`."""
        self.check_language(language)
        if language in self.lang_codes:  # multilingual models mark the source language with a token
            self.tokenizer.src_lang = self.lang_codes[language]
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def parameter_count(self) -> int:
        return parameter_count(self.encoder)

    def save(self, directory: str | Path) -> Path:
        """Write the encoder so that :func:`load_saved` reads it back without the original source."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.kind == "embedded":
            marian_model.save_pretrained(self.encoder, directory, self.tokenizer.spm_file)
        else:  # the whole seq2seq model: Hugging Face loads encoders only through it
            self.model.save_pretrained(directory, safe_serialization=True)
            self.tokenizer.save_pretrained(directory)
        info = {"spec": self.spec, "kind": self.kind, "width": self.width, "languages": list(self.languages),
                "lang_codes": self.lang_codes}
        (directory / SAVED_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")
        return directory


def parse_spec(spec: str) -> tuple[str, str]:
    """('embedded', 'en-pt' | '') or ('hf', hub id or directory); raises on a malformed embedded name."""
    if spec.startswith(EMBEDDED_PREFIX + " "):  # "embedded en-pt", as people write it
        spec = spec.replace(" ", ":", 1)
    if spec == EMBEDDED_PREFIX or spec.startswith(EMBEDDED_PREFIX + ":"):
        name = spec.partition(":")[2]
        if name:
            embedded_mt(name)  # unknown names fail here, with the known ones listed
        return "embedded", name
    return "hf", spec


def embedded_for(language: str) -> str:
    """The embedded model whose encoder reads `language`."""
    for name, spec in EMBEDDED_MT.items():
        if spec.source == language:
            return name
    readers = ", ".join(f"{EMBEDDED_PREFIX}:{n} reads {s.source}" for n, s in EMBEDDED_MT.items())
    raise PolyglotError(f"no embedded MT encoder reads {language!r} ({readers}); "
                        "name a hub id or local directory of an NLLB or M2M100 model instead")


def spec_problems(spec: str, language: str) -> list[str]:
    """Cheap checks for a config, without loading weights: is the spec well formed, does it read `language`?"""
    try:
        kind, name = parse_spec(spec)
        if kind == "embedded":
            reader = embedded_mt(name).source if name else embedded_mt(embedded_for(language)).source
            if reader != language:
                readers = {s.source: n for n, s in EMBEDDED_MT.items()}
                hint = (f"use {EMBEDDED_PREFIX}:{readers[language]}" if language in readers
                        else "name an NLLB or M2M100 model (hub id or local directory)")
                return [f"the MT encoder {spec} reads {reader!r}, not {language!r}; {hint}"]
        elif not Path(name).is_dir() and not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", name):
            return [f"the MT encoder {spec!r} is neither 'embedded[:en-pt|:pt-en]', a local directory nor a hub id"]
    except PolyglotError as exc:
        return [str(exc)]
    return []


def load_mt_encoder(spec: str, language: str | None = None, languages: list[str] | None = None) -> MTEncoder:
    """Load an MT encoder; `language` (what it must read) picks the embedded direction and is checked;
    `languages` declares what a Hugging Face Marian model reads when its files do not say."""
    kind, name = parse_spec(spec)
    if kind == "embedded":
        name = name or embedded_for(language or "")
        mt = load_saved(resolve_embedded_mt(name))
        mt.spec = f"{EMBEDDED_PREFIX}:{name}"
    elif Path(name).is_dir() and (marian_model.is_marian_dir(name) or (Path(name) / SAVED_INFO).is_file()):
        mt = load_saved(name)  # a converted Marian directory, or an MT encoder a stacked model saved
    else:
        mt = _load_hf(name, languages)
    if language is not None:
        mt.check_language(language)
    return mt


def _load_hf(source: str, languages: list[str] | None) -> MTEncoder:
    from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(source)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
        except ImportError:  # converting a sentencepiece model to a fast tokenizer needs protobuf; slow does not
            tokenizer = AutoTokenizer.from_pretrained(source, use_fast=False)
    except (OSError, ValueError) as exc:
        raise PolyglotError(f"cannot load the MT model {source!r}: {type(exc).__name__}: {exc}") from None
    tok_class = type(tokenizer).__name__
    if config.model_type == "marian":
        kind = "marian"
    elif config.model_type == "m2m_100":
        kind = "nllb" if tok_class.startswith("Nllb") else "m2m100"
    else:
        raise PolyglotError(f"the MT model {source!r} is a {config.model_type!r} model; supported: Marian (OPUS-MT), "
                            "M2M100 and NLLB encoders")
    model = AutoModelForSeq2SeqLM.from_pretrained(source).eval()
    rows, needed = model.get_input_embeddings().weight.shape[0], tokenizer_size(tokenizer)
    if needed > rows:
        raise PolyglotError(f"the tokenizer in {source!r} produces ids up to {needed - 1:,} but the model's embedding has "
                            f"{rows:,} rows: the tokenizer and the model do not belong together")
    lang_codes = _language_codes(kind, tokenizer)
    if languages:
        found = list(languages)
    elif lang_codes:
        found = list(lang_codes)
    else:
        found = [x for x in (getattr(tokenizer, "source_lang", None),) if x] or _OPUS_NAME.findall(str(source))[:1]
    if not found:
        raise PolyglotError(f"cannot tell which language the Marian model {source!r} reads (no source_lang in its "
                            "tokenizer, no opus-mt-XX- in its name); declare it (stack.mt_languages)")
    return MTEncoder(source, kind, model.get_encoder(), tokenizer, int(config.d_model), tuple(found), lang_codes, model)


def tokenizer_size(tokenizer) -> int:
    """One more than the largest id the tokenizer can produce (M2M100's len() leaves out its language tokens)."""
    ids = [*tokenizer.get_vocab().values(), *tokenizer.all_special_ids, *getattr(tokenizer, "lang_code_to_id", {}).values()]
    return max(len(tokenizer), 1 + max(ids, default=0))


def _language_codes(kind: str, tokenizer) -> dict[str, str]:
    if kind == "m2m100":
        return {code: code for code in getattr(tokenizer, "lang_code_to_id", {})}
    if kind == "nllb":
        present = {t for t in tokenizer.additional_special_tokens if _NLLB_CODE.match(t)}
        codes = {iso: code for iso, code in NLLB_CODES.items() if code in present}
        return codes | {code: code for code in present}
    return {}


def load_saved(directory: str | Path) -> MTEncoder:
    """An MT encoder written by :meth:`MTEncoder.save` (or a converted embedded model directory)."""
    directory = Path(directory)
    info_file = directory / SAVED_INFO
    if marian_model.is_marian_dir(directory):
        encoder, tokenizer = marian_model.load_encoder(directory)
        c = encoder.config
        info = json.loads(info_file.read_text()) if info_file.is_file() else {}
        if len(tokenizer) != c.vocab_size:
            raise PolyglotError(f"the sentencepiece vocabulary in {directory} has {len(tokenizer):,} pieces but the "
                                f"model's embedding has {c.vocab_size:,} rows: they do not belong together")
        return MTEncoder(info.get("spec", str(directory)), "embedded", encoder, tokenizer, c.dim,
                         tuple(info.get("languages", [c.source_lang])))
    if not info_file.is_file():
        raise PolyglotError(f"{directory} holds no saved MT encoder ({SAVED_INFO} missing)")
    info = json.loads(info_file.read_text())
    mt = _load_hf(str(directory), info["languages"])
    mt.spec = info["spec"]
    return mt
