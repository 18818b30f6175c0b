"""A language-specific sentencepiece unigram tokenizer, trained on the target's training text.

The new tokenizer keeps the old one's normaliser, pre-tokeniser, decoder, special tokens and post-
processor (so it reads text exactly as the model's tokenizer does, and `<s> ... </s>` frames a
sentence as before); only the unigram pieces are new. English verses are mixed into its training
text (`embed_init.source_share`) so English keeps its coverage for zero-shot transfer.
"""

from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path

from tokenizers import Tokenizer, trainers
from tokenizers.models import Unigram
from transformers import PreTrainedTokenizerFast

from polyglot_kd.core.errors import PolyglotError

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)


def supported_size(texts: list[str]) -> int:
    """The most pieces a unigram vocabulary trained on `texts` can hold usefully: one per distinct word
    and per distinct character (beyond that the trainer has nothing left to add)."""
    words, chars = set(), set()
    for text in texts:
        words.update(text.split())
        chars.update(text)
    return len(words) + len(chars)


def size_problem(texts: list[str], vocab_size: int, specials: int = 5) -> str | None:
    """Why `vocab_size` pieces cannot be trained on `texts`, or None."""
    limit = supported_size(texts)
    if vocab_size > limit:
        return (f"embed_init.vocab_size: {vocab_size:,} pieces is more than the tokenizer's training text supports "
                f"({limit:,} distinct words and characters in {len(texts):,} lines); expected at most {limit:,}")
    chars = len({c for t in texts for c in t if not c.isspace()})
    if vocab_size < chars + specials:
        return (f"embed_init.vocab_size: {vocab_size:,} pieces cannot hold the {chars:,} distinct characters of the "
                f"training text and {specials} special tokens; expected at least {chars + specials:,}")
    return None


def mixed_text(source: list[str], target: list[str], source_share: float, seed: int = 0) -> list[str]:
    """Target verses plus enough English verses to make up `source_share` of the lines."""
    if source_share <= 0:
        return list(target)
    wanted = int(round(len(target) * source_share / (1 - source_share)))
    rng = random.Random(seed)
    picked = source if wanted >= len(source) else rng.sample(source, wanted)
    return list(target) + list(picked)


def train_unigram(template, texts: list[str], vocab_size: int, out_dir: Path) -> PreTrainedTokenizerFast:
    """Train `vocab_size` unigram pieces on `texts` with `template`'s pipeline and special tokens; save
    the tokenizer to `out_dir` and return it (loaded back with AutoTokenizer)."""
    specials = sorted(template.all_special_ids)
    if problem := size_problem(texts, vocab_size, len(specials)):
        raise PolyglotError(problem)
    old = json.loads(template.backend_tokenizer.to_str())
    special_tokens = template.convert_ids_to_tokens(specials)
    tok = Tokenizer(Unigram())
    tok.normalizer = template.backend_tokenizer.normalizer
    tok.pre_tokenizer = template.backend_tokenizer.pre_tokenizer
    unk = template.unk_token
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=special_tokens, unk_token=unk,
                                      show_progress=False, max_piece_length=16)
    tok.train_from_iterator(texts, trainer)
    new = json.loads(tok.to_str())
    ids = {piece: i for i, (piece, _) in enumerate(new["model"]["vocab"])}
    old["model"] = new["model"]
    old["added_tokens"] = [dict(t, id=ids[t["content"]]) for t in old["added_tokens"] if t["content"] in ids]
    _remap_specials(old.get("post_processor"), ids)
    backend = Tokenizer.from_str(json.dumps(old))
    fast = PreTrainedTokenizerFast(tokenizer_object=backend, **template.special_tokens_map)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)
    config = json.loads((out_dir / "tokenizer_config.json").read_text())
    config["tokenizer_class"] = type(template).__name__  # e.g. XLMRobertaTokenizerFast, as the template
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    from polyglot_kd.core.loading import load_tokenizer

    trained = load_tokenizer(out_dir)
    log.info("trained a unigram tokenizer of %d pieces on %d lines", len(trained), len(texts))
    return trained


def _remap_specials(node, ids: dict[str, int]) -> None:
    """Point a post-processor's special tokens at their ids in the new vocabulary."""
    if isinstance(node, dict):
        if node.get("type") == "TemplateProcessing":
            for name, spec in node.get("special_tokens", {}).items():
                spec["ids"] = [ids[t] for t in spec["tokens"]]
        for key in ("sep", "cls"):  # RobertaProcessing / BertProcessing: [token, id]
            if isinstance(node.get(key), list) and len(node[key]) == 2:
                node[key][1] = ids[node[key][0]]
        for child in node.get("processors", []):
            _remap_specials(child, ids)


def fertility(tokenizer, texts: list[str]) -> float:
    """Tokens per whitespace-separated word (special tokens not counted)."""
    words = sum(len(t.split()) for t in texts)
    pieces = sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    return pieces / max(words, 1)
