"""The 12 universal part-of-speech tags (Petrov, Das & McDonald 2012) and maps into them.

English training data is the Brown corpus, whose 80-odd tags (with suffixes for titles, headlines,
foreign words, negation and contractions) are mapped here tag by tag, following the Brown Corpus
Manual's definitions and the universal tagset's idea: open classes stay apart, every kind of
verb and auxiliary is VERB, coordinating and subordinating conjunctions are CONJ, function words
that fit nowhere else (infinitival `to`, particles) are PRT, interjections and foreign words are X.
Test treebanks use Universal Dependencies tags (v2's 17, or the v1 / Google universal-treebank
names such as CONJ and PRT); `from_ud` folds them into the same 12.
"""

from __future__ import annotations

UNIVERSAL = ("ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT", "VERB", "X", ".")

# Brown base tag (lower case, without -tl/-hl/-nc suffixes, fw- prefix, * negation) -> universal tag.
BROWN = {
    # punctuation and brackets
    ".": ".", ",": ".", ":": ".", "(": ".", ")": ".", "--": ".", "``": ".", "''": ".", "'": ".",
    # determiners and quantifiers: articles, pre-quantifiers (all, half), both, singular/plural and
    # indefinite determiners (this, these, some, any), either/neither, wh-determiners (which, what)
    "at": "DET", "abn": "DET", "abx": "DET", "dt": "DET", "dti": "DET", "dts": "DET", "dtx": "DET", "wdt": "DET",
    # pre-qualifier (quite, rather), qualifiers (very, enough), wh-qualifier (how), adverbs incl.
    # comparative/superlative and nominal adverbs (here, then)
    "abl": "ADV", "ql": "ADV", "qlp": "ADV", "wql": "ADV", "rb": "ADV", "rbr": "ADV", "rbt": "ADV", "rn": "ADV",
    "wrb": "ADV",
    # post-determiners (many, few, other, next, last): adjectives, as Universal Dependencies treats them
    "ap": "ADJ", "jj": "ADJ", "jjr": "ADJ", "jjs": "ADJ", "jjt": "ADJ",
    # every form of be, do and have, modals and lexical verbs
    "be": "VERB", "bed": "VERB", "bedz": "VERB", "beg": "VERB", "bem": "VERB", "ben": "VERB", "ber": "VERB",
    "bez": "VERB", "do": "VERB", "dod": "VERB", "doz": "VERB", "hv": "VERB", "hvd": "VERB", "hvg": "VERB",
    "hvn": "VERB", "hvz": "VERB", "md": "VERB", "vb": "VERB", "vbd": "VERB", "vbg": "VERB", "vbn": "VERB",
    "vbz": "VERB",
    "cc": "CONJ", "cs": "CONJ",
    # cardinal numbers; ordinals too (the test treebanks tag them NUM)
    "cd": "NUM", "od": "NUM",
    # existential there, nominal pronouns (everybody), possessive, personal, reflexive and wh-pronouns
    "ex": "PRON", "pn": "PRON", "pp$": "PRON", "pp$$": "PRON", "ppl": "PRON", "ppls": "PRON", "ppo": "PRON",
    "pps": "PRON", "ppss": "PRON", "wp$": "PRON", "wpo": "PRON", "wps": "PRON",
    "in": "ADP",
    # common, proper and adverbial nouns (home, Friday), singular, plural, possessive
    "nn": "NOUN", "nns": "NOUN", "np": "NOUN", "nps": "NOUN", "nr": "NOUN", "nrs": "NOUN",
    # adverb/particle (up, off), infinitival to
    "rp": "PRT", "to": "PRT",
    "uh": "X", "fw": "X", "nil": "X",
}

# Universal Dependencies v2 tags, and the v1 / Google universal-treebank names, -> the 12.
UD = {
    "ADJ": "ADJ", "ADP": "ADP", "ADV": "ADV", "AUX": "VERB", "CCONJ": "CONJ", "SCONJ": "CONJ", "CONJ": "CONJ",
    "DET": "DET", "INTJ": "X", "NOUN": "NOUN", "PROPN": "NOUN", "NUM": "NUM", "PART": "PRT", "PRT": "PRT",
    "PRON": "PRON", "PUNCT": ".", ".": ".", "SYM": "X", "VERB": "VERB", "X": "X",
    "ONOM": "X", "AFFIX": "X",  # Turkish treebank extras: onomatopoeia, a stray affix
}


def from_brown(tag: str) -> str | None:
    """Universal tag of a Brown tag such as 'nn-tl', 'np$', 'md*', 'ppss+ber', 'fw-in'; None if unknown."""
    tag = tag.lower()
    if tag.startswith("fw-"):  # foreign words, whatever their English-like tag
        return "X"
    base = tag.split("+")[0]  # contractions (ppss+ber "we're") take the first word's class
    while True:
        stripped = base.removesuffix("-tl").removesuffix("-hl").removesuffix("-nc").removesuffix("-n")
        if stripped == base:
            break
        base = stripped
    if base == "*":  # not, n't
        return "ADV"
    base = base.rstrip("*")  # negated forms: md* (can't), do* (don't)
    if base not in BROWN and base.endswith("$") and base[:-1] in BROWN:
        base = base[:-1]  # possessives: nn$, np$, pn$, nps$
    return BROWN.get(base)


def from_ud(tag: str) -> str | None:
    """Universal 12-tag of a UD (v1 or v2) UPOS tag; None if unknown."""
    return UD.get(tag)
