"""OFA embedding initialisation: a language-specific tokenizer, its embeddings initialised from the old
ones (OFA, FOCUS, mean of pieces, random), optionally factorised.

Cites: Liu et al. 2024, "OFA: A Framework of Initializing Unseen Subword Embeddings for Efficient
Large-scale Multilingual Continued Pretraining"; Dobler & de Melo 2023, "FOCUS".
"""

from polyglot_kd.core.registry import Registry

INIT_METHODS = Registry("embedding initialisation")
INIT_METHODS.add("ofa", "polyglot_kd.methods.embed_init.initialise:init_ofa")
INIT_METHODS.add("focus", "polyglot_kd.methods.embed_init.initialise:init_focus")
INIT_METHODS.add("mean", "polyglot_kd.methods.embed_init.initialise:init_mean")
INIT_METHODS.add("random", "polyglot_kd.methods.embed_init.initialise:init_random")

# BibTeX of the paper this method follows; a model card lists it for every method its model went through.
CITATION = """@inproceedings{liu2024ofa,
  title={{OFA}: A Framework of Initializing Unseen Subword Embeddings for Efficient Large-scale Multilingual Continued Pretraining},
  author={Liu, Yihong and Lin, Peiqin and Wang, Mingyang and Sch{\\"u}tze, Hinrich},
  booktitle={Findings of the Association for Computational Linguistics: NAACL 2024},
  year={2024}
}"""
