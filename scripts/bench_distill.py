"""Distillation throughput and model FLOPs utilisation (MFU) of the training engine.

    python scripts/bench_distill.py                          # XLM-R-base-sized teacher, 6-layer student
    python scripts/bench_distill.py --size e5-small --batch-size 128 --peak-tflops 989

Teacher and student are built from configs (random weights: speed does not depend on them); the student
is cut from the teacher by `polyglot_kd.methods.bistil.student.make_student`, and each step is the distill stage's:
teacher forward without gradients, student forward and backward, pooled-embedding and hidden-state
losses, AdamW, through `polyglot_kd.engine.trainer.Trainer` on `accelerate` (bf16 autocast on a GPU, on CPUs
with native bf16 when --cpu-bf16). Batches are random token ids of one length, so no padding.

Under `accelerate launch --num_processes N` the N processes share each step's global batch (each takes
its rows, as the distill stage does); steps/s and tokens/s are the whole run's, and MFU is against N
devices' peak.

Model FLOPs per step are the usual formula (projections and attention per token and layer; the
teacher's forward once, the student's forward and backward three times), checked against
`torch.utils.flop_counter` over one real step, which the report prints beside it (with --attention
eager the two agree; torch does not count the CPU's fused attention kernel). MFU = model FLOPs x
steps/s / peak; the peak is the device's dense bf16 figure (known GPUs below, or --peak-tflops). Timing starts after --warmup steps, with the device
synchronised at each step boundary.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import XLMRobertaConfig, XLMRobertaModel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's polyglot_kd, not an installed one

from polyglot_kd.core.loading import parameter_count  # noqa: E402
from polyglot_kd.engine.sharding import Share, processes  # noqa: E402
from polyglot_kd.engine.trainer import Trainer, TrainSettings, make_accelerator  # noqa: E402
from polyglot_kd.methods.bistil.losses import HiddenLoss, PooledLoss, pooled  # noqa: E402
from polyglot_kd.methods.bistil.objective import DistillStudent  # noqa: E402
from polyglot_kd.methods.bistil.student import layer_map, make_student, select_layers  # noqa: E402

SIZES = {  # name -> XLM-R config fields (vocabulary: XLM-R's 250,002 unless --vocab-size)
    "xlmr-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "e5-small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536),
    "tiny": dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4, intermediate_size=128),  # tests
}
PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10G": 125.0}  # dense, no sparsity


def device_peak_tflops() -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in name), None)


def build_models(size: str, vocab_size: int, student_layers: int, seq_len: int, attention: str = "sdpa"):
    config = XLMRobertaConfig(attn_implementation=attention, vocab_size=vocab_size, max_position_embeddings=seq_len + 2, type_vocab_size=1,
                              pad_token_id=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                              **SIZES[size])
    teacher = XLMRobertaModel(config, add_pooling_layer=False).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    layers = select_layers(config.num_hidden_layers, student_layers, "bottom")
    student = make_student(teacher, layers)
    return teacher, student, layers


def make_step_loss(teacher, module, layers: list[int], batches: list[torch.Tensor], timestamps: list[float],
                   share: Share | None = None):
    """The distill stage's step on token-id batches (this process's rows of each); records a
    synchronised time stamp at each call (one call per optimiser step, so consecutive stamps bracket
    one full step)."""
    pooled_loss, hidden_loss = PooledLoss(), HiddenLoss(layer_map(layers).hidden)
    share = share or Share()

    def loss_fn(b: int):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        timestamps.append(time.perf_counter())
        ids = batches[b % len(batches)]
        if share.parallel:
            ids = ids[share.rows(len(ids))]
        mask = torch.ones_like(ids)
        with torch.no_grad():
            t_out = teacher(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        s_out, s_hidden = module()(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        sentence = pooled_loss(pooled(s_out, mask), pooled(t_out, mask))
        hidden = hidden_loss(s_hidden, t_out.hidden_states, mask)
        return sentence + hidden, {"pooled": float(sentence.detach()), "hidden": float(hidden.detach())}

    return loss_fn


def count_step_flops(loss_fn, module, accelerator, cpu_bf16: bool) -> int:
    """FLOPs of one full step (teacher forward, student forward and backward), counted by torch."""
    counter = FlopCounterMode(display=False)
    with counter, accelerator.autocast(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_bf16):
        loss, _ = loss_fn(0)
        loss.backward()
    module.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def analytic_step_flops(config, student_layers: int, tokens: int, seq_len: int) -> float:
    """The usual estimate, for comparison with the count: per token and layer 2 x (4 h^2 + 2 h f) for the
    projections and 4 s h for attention scores and mixing; the teacher runs forward (1x), the student
    forward and backward (3x)."""
    h, f = config.hidden_size, config.intermediate_size
    per_layer = 2 * (4 * h * h + 2 * h * f) + 4 * seq_len * h
    return tokens * per_layer * (config.num_hidden_layers + 3 * student_layers)


def run(size: str = "xlmr-base", vocab_size: int = 250002, student_layers: int = 6, batch_size: int = 128,
        seq_len: int = 128, steps: int = 30, warmup: int = 5, cpu_bf16: bool = False,
        peak_tflops: float | None = None, attention: str = "sdpa") -> dict:
    torch.manual_seed(0)
    accelerator = make_accelerator()
    share = Share(accelerator)
    share.rows(batch_size)  # refuses a batch the processes cannot share before the models are built
    teacher, student, layers = build_models(size, vocab_size, student_layers, seq_len, attention)
    teacher.to(accelerator.device)
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(3, vocab_size, (batch_size, seq_len), generator=gen).to(accelerator.device)
               for _ in range(4)]
    timestamps: list[float] = []
    settings = TrainSettings(steps=warmup + steps + 1, lr=1e-4, warmup_steps=1, checkpoint_every=10**9,
                             log_every=10**9, cpu_bf16=cpu_bf16)
    with tempfile.TemporaryDirectory() as tmp:
        loss_fn = make_step_loss(teacher, lambda: trainer.module, layers, batches, timestamps, share)  # trainer: below
        trainer = Trainer(Path(tmp), DistillStudent(student.model), loss_fn, settings, config_hash="bench",
                          accelerator=accelerator)
        cpu_bf16 = trainer.cpu_bf16  # what the engine decided (only on a CPU with native bf16)
        step_flops = count_step_flops(loss_fn, trainer.module, accelerator, cpu_bf16) * share.count  # this process's x N
        timestamps.clear()
        trainer.train()
    seconds = timestamps[warmup + steps] - timestamps[warmup]  # `steps` whole steps after the warm-up
    steps_per_s = steps / seconds
    tokens = batch_size * seq_len
    peak = peak_tflops or device_peak_tflops()
    peak = peak and peak * share.count  # N devices
    model_flops = analytic_step_flops(teacher.config, len(layers), tokens, seq_len)
    achieved = model_flops * steps_per_s
    return {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "processes": share.count, "threads_per_process": torch.get_num_threads(),
        "precision": "bf16 autocast" if torch.cuda.is_available() or cpu_bf16 else "float32",
        "size": size, "vocab_size": vocab_size, "teacher_layers": teacher.config.num_hidden_layers,
        "student_layers": len(layers), "teacher_params": parameter_count(teacher),
        "student_params": parameter_count(student.model),
        "batch_size": batch_size, "seq_len": seq_len, "timed_steps": steps, "seconds": seconds,
        "steps_per_s": steps_per_s, "tokens_per_s": tokens * steps_per_s,
        "attention": attention, "step_tflop": model_flops / 1e12, "counted_step_tflop": step_flops / 1e12, "achieved_tflops": achieved / 1e12,
        "peak_tflops": peak, "mfu": achieved / (peak * 1e12) if peak else None,
    }


def report(r: dict) -> str:
    lines = [f"distillation step on {r['processes']} x {r['device']} ({r['threads_per_process']} thread(s) each), "
             f"{r['precision']}: {r['size']} teacher "
             f"({r['teacher_layers']} layers, {r['teacher_params'] / 1e6:.1f}M params, vocab {r['vocab_size']:,}) -> "
             f"{r['student_layers']}-layer student ({r['student_params'] / 1e6:.1f}M)",
             f"  batch {r['batch_size']} x {r['seq_len']} tokens, {r['timed_steps']} timed steps in {r['seconds']:.2f} s",
             f"  {r['steps_per_s']:.2f} steps/s, {r['tokens_per_s']:,.0f} tokens/s",
             f"  {r['step_tflop'] * 1e3:,.1f} GFLOP per step (torch's count over one step: "
             f"{r['counted_step_tflop'] * 1e3:,.1f}), {r['achieved_tflops']:.2f} TFLOP/s achieved"]
    if r["mfu"] is not None:
        lines.append(f"  MFU {100 * r['mfu']:.1f}% of {r['peak_tflops']:.0f} TFLOP/s dense bf16 peak"
                     + (f" ({r['processes']} devices)" if r["processes"] > 1 else ""))
    else:
        lines.append("  MFU: peak unknown for this device (give --peak-tflops)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=list(SIZES), default="xlmr-base")
    parser.add_argument("--vocab-size", type=int, default=250002, help="vocabulary (a trimmed model's: ~19,000)")
    parser.add_argument("--student-layers", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--cpu-bf16", action="store_true", help="bf16 autocast on a CPU (GPUs always use it)")
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, for MFU")
    parser.add_argument("--attention", choices=["sdpa", "eager"], default="sdpa", help="attention implementation")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    for name in ("vocab_size", "student_layers", "batch_size", "seq_len", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)}: expected >= 1")
    if args.warmup < 0:
        parser.error(f"--warmup {args.warmup}: expected >= 0")
    result = run(args.size, args.vocab_size, args.student_layers, args.batch_size, args.seq_len, args.steps,
                 args.warmup, args.cpu_bf16, args.peak_tflops, args.attention)
    if processes().is_main_process:  # under `accelerate launch`, one report
        print(report(result))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
