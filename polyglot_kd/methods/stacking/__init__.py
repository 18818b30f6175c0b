"""MT-encoder stacking: a translation model's encoder under the model's layers, trained by
self-distillation (stage 1) and task distillation (stage 2).

Cites: Schmidt et al. 2024, "Self-Distillation for Model Stacking Unlocks Cross-Lingual NLU in 200+
Languages" (MT-LLM).
"""

# BibTeX of the paper this method follows; a model card lists it for every method its model went through.
CITATION = """@inproceedings{schmidt2024self,
  title={Self-Distillation for Model Stacking Unlocks Cross-Lingual {NLU} in 200+ Languages},
  author={Schmidt, Fabian David and Borchert, Philipp and Vuli{\\'c}, Ivan and Glava{\\v{s}}, Goran},
  booktitle={Findings of the Association for Computational Linguistics: EMNLP 2024},
  year={2024}
}"""
