"""What the `distributed` tests run under `accelerate launch` (2 CPU processes), and the same pieces
the tests run in one process for the reference.

    python tests/distributed_child.py engine OUT    # the training engine on a toy model
    python tests/distributed_child.py objective TEACHER OUT  # distillation gradients on a tiny teacher
    python tests/distributed_child.py loop OUT      # the task loop on a tiny token classifier
    python tests/distributed_child.py cli ARGS...   # `polyglot-kd ARGS` on the tiny stand-in corpora
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, for a launched child

from polyglot_kd.engine.batching import collate  # noqa: E402
from polyglot_kd.engine.sharding import Share, exit_if_parallel, processes  # noqa: E402
from polyglot_kd.engine.trainer import Trainer, TrainSettings, make_accelerator  # noqa: E402

GLOBAL_BATCH = 16
STEPS = 8
SIGNAL_AT = 4  # the batch during which process 0 is sent SIGTERM (step 5)


# ------------------------------------------------------------------------------------ the engine

def toy_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def toy_loss_fn(module, share: Share, seen: Path | None = None, signal_at: int | None = None):
    """Batch b: 16 rows drawn from a generator seeded by b. The loss has the three shapes the
    sharding rules handle: a masked mean (shares hold different numbers of kept rows) and a term over
    the whole batch (the variance of the outputs over all rows)."""
    w = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])

    def loss_fn(b: int):
        g = torch.Generator().manual_seed(b)
        x = torch.randn(GLOBAL_BATCH, 4, generator=g)
        keep = (torch.rand(GLOBAL_BATCH, generator=g) > 0.3).float()
        rows = share.rows(GLOBAL_BATCH)
        if seen is not None:
            with open(seen, "a") as f:
                f.write(json.dumps({"batch": b, "rows": list(range(GLOBAL_BATCH))[rows]}) + "\n")
        if signal_at == b and share.index == 0:  # a kill of one process only, mid-step
            os.kill(os.getpid(), signal.SIGTERM)
        out = module()(x[rows])
        err = ((out - x[rows] @ w) ** 2).squeeze(1)
        m = keep[rows]
        mse = share.by_count((err * m).sum() / m.sum(), m.sum())
        spread = share.whole_batch(share.gather(out).var())
        return mse + 0.1 * spread, {"mse": float(mse.detach()), "spread": float(spread.detach())}

    return loss_fn


def toy_trainer(out: Path, seed: int = 0, seen: Path | None = None,
                signal_at: int | None = None) -> tuple[torch.nn.Module, Trainer]:
    model = toy_model(seed)
    accelerator = make_accelerator()
    settings = TrainSettings(steps=STEPS, lr=0.05, warmup_steps=2, checkpoint_every=3, keep_checkpoints=10,
                             log_every=1)
    trainer = None
    loss_fn = toy_loss_fn(lambda: trainer.module, Share(accelerator), seen, signal_at)
    trainer = Trainer(out, model, loss_fn, settings, config_hash="toy", accelerator=accelerator)
    return model, trainer


def run_engine(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    state = processes()
    rank = state.process_index
    model, trainer = toy_trainer(out / "full", seen=out / f"rows-{rank}.jsonl")
    trainer.train()
    _, cut = toy_trainer(out / "cut", signal_at=SIGNAL_AT)
    try:
        cut.train()
        stopped_at = None
    except KeyboardInterrupt:
        stopped_at = cut.step
    resumed_model, resumed = toy_trainer(out / "cut", seed=123)  # another init: the checkpoint must replace it
    resumed.train()
    if state.is_main_process:
        torch.save(model.state_dict(), out / "full.pt")
        torch.save(resumed_model.state_dict(), out / "resumed.pt")
        (out / "info.json").write_text(json.dumps({"num_processes": state.num_processes, "stopped_at": stopped_at}))


# --------------------------------------------------------------------------------- the objective

OBJECTIVE_BATCH = 4


class RecordingTokenizer:
    """A tokenizer that notes the texts it is given (what this process's share of a batch was)."""

    def __init__(self, tokenizer):
        self.tokenizer, self.texts = tokenizer, []

    def __call__(self, texts, **kwargs):
        self.texts.append(list(texts))
        return self.tokenizer(texts, **kwargs)


def objective_gradients(teacher_dir: Path, accelerator) -> dict:
    """The DDP-averaged gradients of the distill objective (all four losses, a narrower student) on
    batches 0 (target side, with the contrastive loss) and 1 (source side), with the reported parts
    and the texts this process encoded."""
    from polyglot_kd.core.loading import load_encoder, load_tokenizer
    from polyglot_kd.data.bible import ParallelSet
    from polyglot_kd.methods.bistil import objective
    from polyglot_kd.methods.bistil.config import DistillConfig
    from polyglot_kd.methods.bistil.student import make_student
    from tests.tiny import EN, PT

    teacher = load_encoder(teacher_dir, attn_implementation="eager")
    tokenizer = RecordingTokenizer(load_tokenizer(teacher_dir))
    d = DistillConfig(student_layers=1, batch_size=OBJECTIVE_BATCH, contrastive_weight=0.5, hidden_size=16)
    torch.manual_seed(0)
    student = make_student(teacher, [0], d.hidden_size, d.width_init)
    objective.no_dropout(student.model)
    model = accelerator.prepare(objective.DistillStudent(student.model, student.hidden_projection))
    batches = objective.BilingualBatches(ParallelSet("tiny", EN * 2, PT * 2), OBJECTIVE_BATCH, seed=0)
    share = Share(accelerator)
    loss_fn = objective.make_loss_fn(d, teacher, lambda: model, [0], tokenizer, batches, accelerator.device,
                                     share=share)
    result = {"batches": [batches(b) for b in (0, 1)]}
    for b in (0, 1):
        model.zero_grad()
        loss, parts = loss_fn(b)
        loss.backward()
        result[b] = {"parts": share.mean({"loss": float(loss.detach()), **parts}), "local": parts,
                     "grads": {n: p.grad.clone() for n, p in accelerator.unwrap_model(model).named_parameters()}}
    result["texts"] = tokenizer.texts
    return result


def run_objective(teacher_dir: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    accelerator = make_accelerator()
    torch.save(objective_gradients(teacher_dir, accelerator), out / f"objective-{accelerator.process_index}.pt")


# -------------------------------------------------------------------------------------- the loop

LOOP_SENTENCES = 13
LOOP_BATCH = 4  # batches of 4, 4, 4 and 1: split 2/2 (unequal token counts) and 1/0 (an empty share)


def tiny_tagger(seed: int):
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=32, num_labels=3, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    return BertForTokenClassification(config)


def tagging_data(seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    features = []
    for _ in range(LOOP_SENTENCES):
        n = rng.randint(3, 9)
        ids = [rng.randrange(1, 40) for _ in range(n)]
        labels = [-100] + [i % 3 if rng.random() > 0.3 else -100 for i in ids[1:]]  # a first token and some others unlabelled
        features.append({"input_ids": ids, "attention_mask": [1] * n, "labels": labels})
    return features


def loop_phase():
    from polyglot_kd.methods.sft.loop import Phase

    features = tagging_data()
    keys = ("input_ids", "attention_mask", "labels")
    dev = collate(tagging_data(seed=1)[:6], 0, keys)

    def batches(rng: random.Random) -> list[dict]:
        order = list(range(len(features)))
        rng.shuffle(order)
        return [collate([features[i] for i in order[s:s + LOOP_BATCH]], 0, keys)
                for s in range(0, len(order), LOOP_BATCH)]

    def dev_score(model) -> float:
        with torch.no_grad():
            return -float(model(**{k: v.to(model.device) for k, v in dev.items()}).loss)

    return Phase(epochs=2, learning_rate=5e-3, batches=batches, dev=dev_score, evals_per_epoch=2, seed=0,
                 desc="tiny tagging")


def run_loop(out: Path) -> None:
    from polyglot_kd.methods.sft.loop import device_for_training, run

    out.mkdir(parents=True, exist_ok=True)
    state = processes()
    model = tiny_tagger(0)
    history = run(model, loop_phase(), device_for_training())
    if state.is_main_process:
        torch.save(model.state_dict(), out / "loop.pt")
        (out / "loop.json").write_text(json.dumps({"num_processes": state.num_processes, "history": history}))


# --------------------------------------------------------------------------------------- the CLI

def run_cli(argv: list[str]) -> int:
    from polyglot_kd import cli
    from tests.tiny import corpus_stand_ins

    for module, name, stand_in in corpus_stand_ins():
        setattr(module, name, stand_in)
    return cli.main(argv)


def run_scenario(what: str, rest: list[str]) -> int:
    if what == "engine":
        run_engine(Path(rest[0]))
    elif what == "objective":
        run_objective(Path(rest[0]), Path(rest[1]))
    elif what == "loop":
        run_loop(Path(rest[0]))
    elif what == "cli":
        return run_cli(rest)  # the CLI ends a launched process itself
    else:
        sys.exit(f"unknown scenario {what!r}")
    exit_if_parallel(0)
    return 0


if __name__ == "__main__":
    sys.exit(run_scenario(sys.argv[1], sys.argv[2:]))
