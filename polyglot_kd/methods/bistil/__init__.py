"""BiStil bilingual distillation: a shallower student cut from the teacher, distilled on two languages
(phase 1), then task distillation with sparse fine-tuning (phase 2).

Cites: Ansell et al. 2023, "Distilling Efficient Language-Specific Models for Cross-Lingual Transfer".
"""
