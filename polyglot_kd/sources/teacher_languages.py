"""The languages the embedded teachers read.

multilingual-e5 is XLM-RoBERTa based: its tokenizer and pretraining cover the 100 CC-100 languages of
XLM-R (Conneau et al. 2020, "Unsupervised Cross-lingual Representation Learning at Scale", table 6).
The 100 entries are 93 language codes, five romanised variants of them (Bengali, Hindi, Tamil, Telugu,
Urdu), Burmese in the Zawgyi font, and Chinese a second time (Simplified and Traditional).
"""

from __future__ import annotations

XLMR_LANGUAGES = frozenset("""
af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha he hi hr hu hy id
is it ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne nl no om or pa pl ps pt ro ru sa sd si sk
sl so sq sr su sv sw ta te th tl tr ug uk ur uz vi xh yi zh
""".split())

# codes people also use for the same languages
ALIASES = {"iw": "he", "fil": "tl", "nb": "no", "nn": "no", "swh": "sw", "zsm": "ms", "cmn": "zh", "kmr": "ku"}


def teacher_reads(code: str) -> bool:
    """Whether an XLM-R based teacher read the language of `code` ('pt', 'pt-BR', 'zh-Hant') in pretraining."""
    primary = code.replace("_", "-").split("-")[0].lower()
    return ALIASES.get(primary, primary) in XLMR_LANGUAGES
