"""MT-encoder stacking: a translation model's encoder under the model's layers, trained by
self-distillation (stage 1) and task distillation (stage 2).

Cites: Schmidt et al. 2024, "Self-Distillation for Model Stacking Unlocks Cross-Lingual NLU in 200+
Languages" (MT-LLM).
"""
