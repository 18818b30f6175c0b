"""Vocabulary trimming: keep the teacher tokens two languages need, rewrite tokenizer and embeddings.

Cites: Abdaoui et al. 2020, "Load What You Need: Smaller Versions of Multilingual BERT"; Ushio et al.
2023, "An Efficient Multilingual Language Model Compression through Vocabulary Trimming".
"""
