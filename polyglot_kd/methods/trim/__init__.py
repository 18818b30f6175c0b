"""Vocabulary trimming: keep the teacher tokens two languages need, rewrite tokenizer and embeddings.

Cites: Abdaoui et al. 2020, "Load What You Need: Smaller Versions of Multilingual BERT"; Ushio et al.
2023, "An Efficient Multilingual Language Model Compression through Vocabulary Trimming".
"""

# BibTeX of the paper this method follows; a model card lists it for every method its model went through.
CITATION = """@inproceedings{ushio2023efficient,
  title={An Efficient Multilingual Language Model Compression through Vocabulary Trimming},
  author={Ushio, Asahi and Zhou, Yi and Camacho-Collados, Jose},
  booktitle={Findings of the Association for Computational Linguistics: EMNLP 2023},
  year={2023}
}"""
