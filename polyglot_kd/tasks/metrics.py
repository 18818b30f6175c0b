"""Metrics shared by the trained tasks: word accuracy, seqeval entity F1, classification accuracy."""

from __future__ import annotations


def word_accuracy(gold: list[list[str]], predicted: list[list[str | None]]) -> dict[str, float]:
    """Share of words tagged right; a word the model gave no prediction (None) counts as wrong."""
    total = sum(len(g) for g in gold)
    right = sum(p == g for gs, ps in zip(gold, predicted) for g, p in zip(gs, ps))
    return {"accuracy": right / total if total else 0.0, "words": total}


def entity_f1(gold: list[list[str]], predicted: list[list[str | None]]) -> dict[str, float]:
    """seqeval's entity-level precision / recall / F1 (CoNLL style), as XTREME reports PAN-X."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    predicted = [[p or "O" for p in ps] for ps in predicted]
    return {"f1": f1_score(gold, predicted), "precision": precision_score(gold, predicted),
            "recall": recall_score(gold, predicted), "sentences": len(gold)}


def tag_f1(gold: list[list[str]], predicted: list[list[str | None]]) -> dict[str, float]:
    """Micro F1 over words (equal to accuracy when every word gets one tag) and macro F1 over tags,
    with scikit-learn."""
    from sklearn.metrics import f1_score

    flat_gold = [g for gs in gold for g in gs]
    flat_pred = [p or "<none>" for ps in predicted for p in ps]
    return {"f1": f1_score(flat_gold, flat_pred, average="micro"),
            "macro_f1": f1_score(flat_gold, flat_pred, average="macro", labels=sorted(set(flat_gold))),
            "words": len(flat_gold)}


def classification_accuracy(gold: list[str], predicted: list[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score

    return {"accuracy": accuracy_score(gold, predicted), "examples": len(gold)}


# Articles dropped before comparing answers, per language, as MLQA's evaluation does; English is SQuAD's.
_ARTICLES = {
    "en": {"a", "an", "the"},
    "es": {"un", "una", "unos", "unas", "el", "la", "los", "las"},
    "de": {"ein", "eine", "einem", "einen", "einer", "eines", "der", "die", "das", "des", "dem", "den"},
    "vi": {"những", "của", "cái", "các", "một"},
}
_CHARACTER_LANGUAGES = {"zh", "ja", "th"}  # no spaces between words: compare characters


def _answer_tokens(text: str, language: str) -> list[str]:
    import unicodedata

    text = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text.lower())
    if language in _CHARACTER_LANGUAGES:
        return [c for c in text if not c.isspace()]
    if language == "ar":  # the Arabic article is a prefix
        return [w[2:] if w.startswith("ال") and len(w) > 3 else w for w in text.split()]
    articles = _ARTICLES.get(language, set())
    return [w for w in text.split() if w not in articles]


def squad(gold: list[list[str]], predicted: list[str], language: str = "en") -> dict[str, float]:
    """SQuAD exact match and token F1 (best over the gold answers), averaged over questions, with
    MLQA's language-aware normalisation (punctuation, articles, character-level for zh/ja/th)."""
    from collections import Counter

    em = f1 = 0.0
    for answers, guess in zip(gold, predicted):
        p = _answer_tokens(guess, language)
        best_em = best_f1 = 0.0
        for answer in answers:
            g = _answer_tokens(answer, language)
            best_em = max(best_em, float(p == g))
            common = sum((Counter(p) & Counter(g)).values())
            if common:
                precision, recall = common / len(p), common / len(g)
                best_f1 = max(best_f1, 2 * precision * recall / (precision + recall))
            elif not p and not g:
                best_f1 = max(best_f1, 1.0)
        em += best_em
        f1 += best_f1
    n = max(1, len(gold))
    return {"f1": f1 / n, "exact_match": em / n, "questions": len(gold)}
