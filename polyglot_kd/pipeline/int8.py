"""Int8 versions of a released encoder, for CPU inference: two routes, measured side by side.

- `onnx`: the encoder with its mean pooling and normalisation exported to ONNX, its weights quantised
  to int8 by ONNX Runtime's dynamic quantisation (activations quantised on the fly). This is the file
  a release ships (`onnx/model_int8.onnx`): it runs anywhere ONNX Runtime does, without torch.
- `torch`: torch's dynamic quantisation of every Linear layer, in memory (torch cannot save it as
  safetensors); measured as the alternative, not shipped.

Both take the model's own tokenizer, so the tokens are the same as the float model's.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch


ONNX_DIR = "onnx"
ONNX_INT8 = "model_int8.onnx"
ROUTES = ("onnx", "torch")
PER_CHANNEL = True
"""One int8 scale per output channel of each weight rather than one per matrix."""


class _Pooled(torch.nn.Module):
    """Encoder -> mean over the mask -> L2 norm: the whole sentence embedding in one graph."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


def torch_int8(model) -> torch.nn.Module:
    """A dynamically quantised copy (int8 weights of every nn.Linear), the original untouched."""
    return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).float().eval(), {torch.nn.Linear},
                                                  dtype=torch.qint8)


def export_onnx_int8(model, tokenizer, out_dir: Path) -> Path:
    """Write `out_dir/model_int8.onnx` (inputs input_ids, attention_mask; output sentence_embedding)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out_dir.mkdir(parents=True, exist_ok=True)
    fp32, final = out_dir / ".model_fp32.onnx", out_dir / ONNX_INT8
    sample = tokenizer(["a short example", "and a second, somewhat longer example sentence"], padding=True,
                       return_tensors="pt")
    wrapped = _Pooled(copy.deepcopy(model).float().eval())
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it records as constants (batch and length stay dynamic)
        torch.onnx.export(wrapped, (sample["input_ids"], sample["attention_mask"]), str(fp32), dynamo=False,
                          input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "sentence_embedding": {0: "batch"}},
                          opset_version=17)
    partial = final.with_name(final.name + ".partial")
    quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8, per_channel=PER_CHANNEL)
    fp32.unlink()
    partial.replace(final)
    return final


class OnnxEncoder:
    """Sentence embeddings from an exported ONNX file, batched and length-sorted like `core.pooling.encode`."""

    def __init__(self, path: Path, tokenizer, threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer

    def __call__(self, texts: Sequence[str], *, batch_size: int = 64, max_length: int = 128, prefix: str = "") -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = None
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            enc = self.tokenizer([prefix + texts[i] for i in idx], padding=True, truncation=True,
                                 max_length=max_length, return_tensors="np")
            (emb,) = self.session.run(None, {"input_ids": enc["input_ids"].astype(np.int64),
                                             "attention_mask": enc["attention_mask"].astype(np.int64)})
            if out is None:
                out = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
            out[idx] = emb
        return out


def export_and_measure(model_dir: Path, folder: Path, teacher_dir: Path, datasets, speed_texts: list[str], *,
                       batch_size: int, max_length: int, prefix: str, rounds: int) -> dict:
    """Write `folder/onnx/model_int8.onnx` from the model at `model_dir`, then score it on `datasets`
    (retrieval) and time it beside the float model and the teacher in one run."""
    import functools

    from polyglot_kd.core.loading import load_model_and_tokenizer
    from polyglot_kd.pipeline.speed import beside_model

    model, tokenizer = load_model_and_tokenizer(model_dir)
    path = export_onnx_int8(model, tokenizer, folder / ONNX_DIR)
    quantised = functools.partial(OnnxEncoder(path, tokenizer), batch_size=batch_size, max_length=max_length,
                                  prefix=prefix)
    measured = beside_model("int8", quantised, model, tokenizer, teacher_dir, datasets, speed_texts,
                            batch_size=batch_size, max_length=max_length, prefix=prefix, rounds=rounds)
    return {"file": f"{ONNX_DIR}/{ONNX_INT8}", "bytes": path.stat().st_size, "route": "onnxruntime dynamic int8",
            "per_channel": PER_CHANNEL, **measured}
