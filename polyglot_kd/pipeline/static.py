"""A static-embedding model distilled from a released encoder with model2vec, the speed end of a build.

model2vec passes every vocabulary token through the encoder once, keeps its (PCA-reduced, SIF-
weighted) output as that token's vector, and encodes a sentence as the mean of its tokens' vectors:
no attention at inference. The release ships it under `static/` (model2vec's own format, loaded with
`model2vec.StaticModel.from_pretrained`), scored and timed beside the encoder it came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

STATIC_DIR = "static"
PCA_DIMS = 256
"""Dimensions of the static vectors (model2vec's default; the encoder's width is the most it can be)."""


def distil_static(model, tokenizer, out: Path):
    from model2vec.distill import distill_from_model

    static = distill_from_model(model, tokenizer, pca_dims=dimensions(model), device="cpu")
    partial = out.with_name(out.name + ".partial")
    static.save_pretrained(str(partial))
    partial.replace(out)
    return static


def dimensions(model) -> int:
    return min(PCA_DIMS, model.config.hidden_size)


def normalised(static, texts, batch_size: int = 64) -> np.ndarray:
    emb = static.encode(list(texts), batch_size=batch_size)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(1e-9)


def export_and_measure(model_dir: Path, folder: Path, teacher_dir: Path, datasets, speed_texts: list[str], *,
                       batch_size: int, max_length: int, prefix: str, rounds: int) -> dict:
    """Write `folder/static/`, score it on `datasets` (retrieval) and time it beside the encoder it was
    distilled from and the teacher, in one run."""
    from polyglot_kd.core.loading import load_model_and_tokenizer
    from polyglot_kd.pipeline.speed import beside_model

    out = folder / STATIC_DIR
    model, tokenizer = load_model_and_tokenizer(model_dir)
    static = distil_static(model, tokenizer, out)

    def run(texts):
        return normalised(static, [prefix + t for t in texts], batch_size)

    measured = beside_model("static", run, model, tokenizer, teacher_dir, datasets, speed_texts,
                            batch_size=batch_size, max_length=max_length, prefix=prefix, rounds=rounds)
    return {"folder": STATIC_DIR, "bytes": sum(p.stat().st_size for p in out.rglob("*") if p.is_file()),
            "route": f"model2vec distillation, {dimensions(model)} dimensions", **measured}
