"""OFA embedding initialisation: a language-specific tokenizer, its embeddings initialised from the old
ones (OFA, FOCUS, mean of pieces, random), optionally factorised.

Cites: Liu et al. 2024, "OFA: A Framework of Initializing Unseen Subword Embeddings for Efficient
Large-scale Multilingual Continued Pretraining"; Dobler & de Melo 2023, "FOCUS".
"""
