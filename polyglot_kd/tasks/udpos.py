"""UDPOS: Universal Dependencies part-of-speech tags (17 UPOS) in XTREME's 33 languages (F1 over
words, which equals accuracy; macro F1 beside it).

Hub: `google/xtreme`, configs `udpos.<LanguageName>` (tokens, pos_tags). Local, as UD publishes
treebanks: a folder of CoNLL-U files named `<lang>_<treebank>-ud-<split>.conllu`; every treebank of
the language is used, as XTREME does (syntactic words; multiword-token lines are skipped).
"""

from __future__ import annotations

from polyglot_kd.data import xtreme
from polyglot_kd.data.tagged import conllu_sentences
from polyglot_kd.core.errors import PolyglotError
from polyglot_kd.tasks.task import Task
from polyglot_kd.tasks.data import TaskData, sample
from polyglot_kd.tasks.metrics import tag_f1

NAME = "udpos"
HUB = "google/xtreme"
LABELS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
          "SCONJ", "SYM", "VERB", "X")
CONFIG_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese",
}
LANGUAGES = tuple(sorted(CONFIG_NAMES))


def _upos(tag: str) -> str | None:
    return tag if tag in LABELS else None


def load(split: str, language: str, source: str = "", limit: int | None = None) -> TaskData:
    source = source or HUB
    if xtreme.is_local(source):
        from pathlib import Path

        files = sorted(Path(source).expanduser().rglob(f"{language}_*-ud-{split}.conllu"))
        if not files:
            raise PolyglotError(f"no UD treebank file {language}_*-ud-{split}.conllu under {source}")
        examples = [{"words": list(s.words), "labels": list(s.tags)} for f in files for s in conllu_sentences(f, _upos)]
    else:
        examples = xtreme.hub_tagged(source, f"udpos.{CONFIG_NAMES[language]}", split, "pos_tags", LABELS)
    return TaskData(NAME, split, language, sample(examples, limit), source)


TASK = Task(NAME, "token-classification", "f1", True,
              "Universal Dependencies POS (17 tags), zero-shot from English",
              languages=LANGUAGES, load=load, metrics=tag_f1, labels=LABELS, default_source=HUB)
