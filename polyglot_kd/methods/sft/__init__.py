"""Zero-shot task training: full fine-tuning, Lottery-Ticket Sparse Fine-Tuning, adapters, and their
task heads. Each method is a function `fit(model, setup) -> Fitted` (see `fit.py`), declared here.

Cites: Ansell et al. 2022, "Composable Sparse Fine-Tuning for Cross-Lingual Transfer" (LT-SFT);
Pfeiffer et al. 2020, "MAD-X" (adapters, through the `adapters` library).
"""

from polyglot_kd.core.registry import Registry

FINETUNE_METHODS = Registry("training method")
FINETUNE_METHODS.add("full", "polyglot_kd.methods.sft.full:fit")
FINETUNE_METHODS.add("lt-sft", "polyglot_kd.methods.sft.lt_sft:fit")
FINETUNE_METHODS.add("adapters", "polyglot_kd.methods.sft.adapters:fit")
# BiStil phase 2: LT-SFT of a distilled student against its task-tuned teacher
FINETUNE_METHODS.add("lt-sft-kd", "polyglot_kd.methods.bistil.task_kd:fit")

# BibTeX of the paper this method follows; a model card lists it for every method its model went through.
CITATION = """@inproceedings{ansell2022composable,
  title={Composable Sparse Fine-Tuning for Cross-Lingual Transfer},
  author={Ansell, Alan and Ponti, Edoardo Maria and Korhonen, Anna and Vuli{\\'c}, Ivan},
  booktitle={Proceedings of the 60th Annual Meeting of the Association for Computational Linguistics (Volume 1: Long Papers)},
  year={2022}
}"""
