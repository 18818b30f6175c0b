"""BiStil bilingual distillation: a shallower student cut from the teacher, distilled on two languages
(phase 1), then task distillation with sparse fine-tuning (phase 2).

Cites: Ansell et al. 2023, "Distilling Efficient Language-Specific Models for Cross-Lingual Transfer".
"""

from polyglot_kd.core.registry import Registry

# `kinds`: the variants a config may pick for that loss (distill.pooled_loss, distill.attention_loss)
LOSSES = Registry("distillation loss")
LOSSES.add("pooled", "polyglot_kd.methods.bistil.losses:PooledLoss", kinds=("mse", "cosine"))
LOSSES.add("hidden", "polyglot_kd.methods.bistil.losses:HiddenLoss")
LOSSES.add("attention", "polyglot_kd.methods.bistil.losses:AttentionLoss", kinds=("mse", "kl"))
LOSSES.add("contrastive", "polyglot_kd.methods.bistil.losses:ContrastiveLoss")
LOSSES.add("soft_ce", "polyglot_kd.methods.bistil.losses:SoftCrossEntropy")

# BibTeX of the paper this method follows; a model card lists it for every method its model went through.
CITATION = """@inproceedings{ansell2023distilling,
  title={Distilling Efficient Language-Specific Models for Cross-Lingual Transfer},
  author={Ansell, Alan and Ponti, Edoardo Maria and Korhonen, Anna and Vuli{\\'c}, Ivan},
  booktitle={Findings of the Association for Computational Linguistics: ACL 2023},
  year={2023}
}"""
