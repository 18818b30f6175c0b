"""Vocabulary trimming: count token use, choose the tokens to keep, rewrite tokenizer and embeddings.

Works on fast tokenizers with a Unigram (XLM-R, sentencepiece) or WordPiece (BERT) model. For both,
dropping pieces that a text's best segmentation does not use leaves that segmentation unchanged
(Viterbi keeps its optimum; greedy longest-match keeps its choices), and keeping every single
character the languages use lets words whose pieces were dropped fall back to smaller pieces.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.core.paths import cache_dir

log = logging.getLogger(__name__)

SUPPORTED_MODELS = ("Unigram", "WordPiece")
# Slow-tokenizer vocabulary files that would disagree with the trimmed tokenizer.json.
STALE_TOKENIZER_FILES = ("sentencepiece.bpe.model", "spiece.model", "tokenizer.model", "vocab.txt")


def tokenizer_kind(tokenizer) -> str:
    """'Unigram' or 'WordPiece'; a clear error for anything this module cannot trim."""
    if not getattr(tokenizer, "is_fast", False):
        raise PolyglotError(f"trimming needs a fast tokenizer (tokenizer.json); {type(tokenizer).__name__} is not one")
    kind = type(tokenizer.backend_tokenizer.model).__name__
    if kind not in SUPPORTED_MODELS:
        raise PolyglotError(f"cannot trim a {kind} tokenizer: supported are {', '.join(SUPPORTED_MODELS)}")
    return kind


def count_tokens(tokenizer, texts: Sequence[str], batch_size: int = 2000, desc: str = "counting") -> np.ndarray:
    """Occurrences of every token id in `texts` (no special tokens), batched through the Rust tokenizer."""
    return count_token_batches(tokenizer, text_batches(texts, batch_size), total=-(-len(texts) // batch_size), desc=desc)


def text_batches(texts: Sequence[str], batch_size: int = 2000) -> Iterator[list[str]]:
    """`texts` in consecutive batches, as the counters read them."""
    return (list(texts[start:start + batch_size]) for start in range(0, len(texts), batch_size))


def count_token_batches(tokenizer, batches: Iterable[list[str]], total: int | None = None,
                        desc: str = "counting") -> np.ndarray:
    """Token counts over batches of texts as they come (e.g. read from a memory-mapped dataset): only
    one batch is held at a time. The Rust tokenizer spreads each batch over every core."""
    backend = tokenizer.backend_tokenizer
    counts = np.zeros(len(tokenizer), dtype=np.int64)
    for batch in tqdm(batches, total=total, desc=desc, unit="batch", leave=False):
        encodings = backend.encode_batch_fast(batch, add_special_tokens=False)
        ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64)
        counts += np.bincount(ids, minlength=len(counts))[: len(counts)]
    return counts


# Part of the cache key of word-list distributions: change it when weighted_token_distribution changes.
WORDLIST_FORMS = "capitalised: the frequency head, or every word of a list without frequencies"


def weighted_token_distribution(tokenizer, words: Sequence[tuple[str, float]], capitalised_share: float = 0.1) -> np.ndarray:
    """Token distribution of general text estimated from a weighted word list.

    A word of weight w spreads w over its tokens; word lists are lower-cased, so the capitalised form
    (sentence starts, names, titles) of the most frequent fifth of the words gets `capitalised_share`
    of their weight. A list without frequencies (a dictionary: equal weights, alphabetical order) has
    no most frequent fifth, so every word gets its capitalised form.
    """
    uniform = len({weight for _, weight in words}) <= 1
    head = words if uniform else words[: max(1, len(words) // 5)]
    forms = [w for w, _ in words] + [w[:1].upper() + w[1:] for w, _ in head]
    weights = [x * (1 - capitalised_share) if i < len(head) else x for i, (_, x) in enumerate(words)]
    weights += [x * capitalised_share for _, x in head]
    encodings = tokenizer.backend_tokenizer.encode_batch_fast(forms, add_special_tokens=False)
    ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64)
    per_token = np.fromiter((w / len(e.ids) for e, w in zip(encodings, weights) for _ in e.ids), dtype=np.float64)
    dist = np.bincount(ids, weights=per_token, minlength=len(tokenizer))[: len(tokenizer)]
    total = dist.sum()
    return dist / total if total else dist


def cached_counts(tokenizer_file: Path, texts: Sequence[str], compute) -> np.ndarray:
    """`compute()` cached on disk by the hash of the tokenizer and the texts
    (off when $POLYGLOT_KD_NO_COUNT_CACHE is set, as the trimming benchmark does)."""
    if os.environ.get("POLYGLOT_KD_NO_COUNT_CACHE"):
        return compute()
    h = hashlib.sha256(Path(tokenizer_file).read_bytes())
    for text in texts:
        h.update(text.encode("utf-8"))
        h.update(b"\0")
    path = cache_dir() / "counts" / f"{h.hexdigest()[:32]}.npy"
    if path.is_file():
        return np.load(path)
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, result)
    tmp.rename(path)
    return result


def fallback_ids(tokenizer, texts: Iterable[str]) -> set[int]:
    """Ids of the single-character pieces for every character in `texts` (and the bare word marker),
    so that words whose longer pieces were dropped still segment into kept pieces, not <unk>."""
    normalizer = tokenizer.backend_tokenizer.normalizer
    raw: set[str] = set()
    for text in texts:  # one text at a time: `texts` may be a corpus streamed from disk
        raw.update(text)
    # normalise the distinct characters, not the whole text
    chars = set(normalizer.normalize_str("".join(sorted(raw))) if normalizer else raw) - {" "}
    lookup = tokenizer.backend_tokenizer.model.token_to_id  # no 250k-entry vocab dict
    forms = ("▁{}", "{}") if tokenizer_kind(tokenizer) == "Unigram" else ("{}", "##{}")
    ids = {lookup(f.format(c)) for c in chars for f in forms} | {lookup("▁")}
    return ids - {None}


def special_ids(tokenizer) -> set[int]:
    ids = set(tokenizer.all_special_ids)
    ids.update(tokenizer.added_tokens_decoder.keys())
    return ids


@dataclass
class Selection:
    """The kept token ids (sorted, old numbering) and why each group was kept."""

    kept: np.ndarray
    by_rule: int
    special: int
    fallback: int


def select_tokens(
    p_source: np.ndarray,
    p_target: np.ndarray,
    corpus_counts: np.ndarray,
    rule: str,
    *,
    top_n: int = 20000,
    threshold: float = 1e-6,
    min_frequency: int = 2,
    always: set[int] = frozenset(),
    fallback: set[int] = frozenset(),
) -> Selection:
    """Choose tokens by rule; `always` (special) and `fallback` (characters) are kept on top."""
    score = np.maximum(p_source, p_target)
    if rule == "top_n":
        candidates = np.flatnonzero(score > 0)
        order = candidates[np.argsort(-score[candidates], kind="stable")]
        chosen = set(order[:top_n].tolist())
    elif rule == "threshold":
        chosen = set(np.flatnonzero(score >= threshold).tolist())
    elif rule == "min_frequency":
        chosen = set(np.flatnonzero(corpus_counts >= min_frequency).tolist())
    else:
        raise PolyglotError(f"unknown trimming rule {rule!r}")
    extra_fallback = set(fallback) - chosen - set(always)
    kept = np.array(sorted(chosen | set(always) | set(fallback)), dtype=np.int64)
    return Selection(kept=kept, by_rule=len(chosen), special=len(set(always)), fallback=len(extra_fallback))


def trim_tokenizer(tokenizer, kept: np.ndarray, out_dir: Path, source_dir: Path | None = None) -> None:
    """Write a tokenizer holding only `kept` ids (renumbered in order) into `out_dir`."""
    kind = tokenizer_kind(tokenizer)
    old_to_new = {int(old): new for new, old in enumerate(kept)}
    missing = special_ids(tokenizer) - old_to_new.keys()
    if missing:
        raise PolyglotError(f"kept ids must include every special token; missing ids {sorted(missing)}")
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec["model"]
    if kind == "Unigram":
        model["vocab"] = [model["vocab"][old] for old in kept]
        if model.get("unk_id") is not None:
            model["unk_id"] = old_to_new[model["unk_id"]]
    else:
        id_to_piece = {i: p for p, i in model["vocab"].items()}
        model["vocab"] = {id_to_piece[int(old)]: new for new, old in enumerate(kept)}
    spec["added_tokens"] = [dict(t, id=old_to_new[t["id"]]) for t in spec.get("added_tokens", []) if t["id"] in old_to_new]
    _remap_post_processor(spec.get("post_processor"), old_to_new)
    spec["normalizer"] = compose_first(spec.get("normalizer"))

    out_dir.mkdir(parents=True, exist_ok=True)
    if source_dir is not None:
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            if (source_dir / name).is_file():
                shutil.copy(source_dir / name, out_dir / name)
    else:
        tokenizer.save_pretrained(out_dir)
    for name in STALE_TOKENIZER_FILES:
        (out_dir / name).unlink(missing_ok=True)
    (out_dir / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    _remap_tokenizer_config(out_dir / "tokenizer_config.json", old_to_new)
    if kind == "WordPiece":  # BertTokenizerFast wants a vocab.txt beside tokenizer.json
        pieces = sorted(model["vocab"], key=model["vocab"].get)
        (out_dir / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf-8")


def compose_first(normalizer: dict | None) -> dict:
    """The tokenizer's normalizer with Unicode NFC in front. The kept pieces were chosen on composed
    text; decomposed input (the Vietnamese UDHR writes tone marks as combining characters, which the
    XLM-R normalizer leaves alone) would otherwise reach combining-mark pieces that were dropped."""
    if normalizer and normalizer.get("type") in ("NFC", "NFKC"):
        return normalizer
    return {"type": "Sequence", "normalizers": [{"type": "NFC"}] + ([normalizer] if normalizer else [])}


def _remap_post_processor(proc: dict | None, old_to_new: dict[int, int]) -> None:
    if not proc:
        return
    if proc.get("type") == "Sequence":
        for sub in proc.get("processors", []):
            _remap_post_processor(sub, old_to_new)
        return
    for token in proc.get("special_tokens", {}).values():
        token["ids"] = [old_to_new[i] for i in token["ids"]]
    for key in ("sep", "cls"):  # RobertaProcessing / BertProcessing: [content, id]
        if key in proc:
            proc[key] = [proc[key][0], old_to_new[proc[key][1]]]


def _remap_tokenizer_config(path: Path, old_to_new: dict[int, int]) -> None:
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    decoder = config.get("added_tokens_decoder")
    if decoder:
        config["added_tokens_decoder"] = {
            str(old_to_new[int(k)]): v for k, v in decoder.items() if int(k) in old_to_new
        }
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")


def trim_model(model, kept: np.ndarray, tokenizer) -> None:
    """Keep only the `kept` embedding rows of a base encoder (AutoModel), in place; update the config."""
    if getattr(model, "get_output_embeddings", lambda: None)() is not None:
        raise PolyglotError(f"trim the base encoder (AutoModel), not {type(model).__name__} with an output head")
    old_to_new = {int(old): new for new, old in enumerate(kept)}
    index = torch.as_tensor(kept, dtype=torch.long)
    old = model.get_input_embeddings()
    pad_id = old_to_new.get(tokenizer.pad_token_id) if tokenizer.pad_token_id is not None else None
    new = torch.nn.Embedding(len(kept), old.embedding_dim, padding_idx=pad_id)
    new.weight.data = old.weight.data[index].clone()
    model.set_input_embeddings(new)
    model.config.vocab_size = len(kept)
    for key in ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id"):
        value = getattr(model.config, key, None)
        if value is not None:
            setattr(model.config, key, old_to_new.get(value))


def coverage(kept: np.ndarray, counts: np.ndarray) -> float:
    """Share of token occurrences (counted with the untrimmed tokenizer) whose id is kept."""
    total = counts.sum()
    return float(counts[kept].sum() / total) if total else 1.0

