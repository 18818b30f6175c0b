"""Distillation throughput on 1 and on N processes, side by side: `scripts/bench_distill.py` (the distill
stage's step through the engine) run once per layout, as a plain process or under `accelerate launch`,
on the same global batch.

    python scripts/bench_data_parallel.py --runs 1x2,2x1 -- --size e5-small --vocab-size 19000 \\
        --student-layers 3 --batch-size 32 --seq-len 64 --steps 10 --warmup 2

A layout PxT is P processes of T threads each (OMP_NUM_THREADS); on a CPU the fair comparison keeps
P x T at the number of cores. Under `accelerate launch` the processes join a gloo group on a CPU and
one GPU each where there are GPUs (`--multi_gpu`; accelerate's `--cpu` would start a single process).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent / "bench_distill.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def layout(text: str) -> tuple[int, int]:
    processes, _, threads = text.partition("x")
    return int(processes), int(threads or 1)


def command(processes: int, bench_args: list[str], out: Path) -> list[str]:
    script = [str(BENCH), *bench_args, "--json", str(out)]
    if processes == 1:
        return [sys.executable, *script]
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(free_port()), *script]


def measure(processes: int, threads: int, bench_args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(BENCH.parent.parent))
        subprocess.run(command(processes, bench_args, out), env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def table(results: list[dict]) -> str:
    first = results[0]["steps_per_s"]
    rows = ["| processes x threads | steps/s | sentences/s | tokens/s | vs the first |", "|---|---|---|---|---|"]
    for r in results:
        rows.append(f"| {r['processes']} x {r['threads_per_process']} | {r['steps_per_s']:.2f} | "
                    f"{r['steps_per_s'] * r['batch_size']:.1f} | {r['tokens_per_s']:,.0f} | "
                    f"{r['steps_per_s'] / first:.2f}x |")
    r = results[0]
    return (f"{r['size']} teacher -> {r['student_layers']}-layer student, vocab {r['vocab_size']:,}, global batch "
            f"{r['batch_size']} x {r['seq_len']} tokens, {r['precision']}, {r['timed_steps']} timed steps\n"
            + "\n".join(rows))


def main(argv: list[str] | None = None) -> list[dict]:
    argv = sys.argv[1:] if argv is None else argv
    ours, bench_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="1x2,2x1", help="layouts PxT: P processes of T threads (default 1x2,2x1)")
    args = parser.parse_args(ours)
    results = [measure(*layout(text), bench_args) for text in args.runs.split(",")]
    print(table(results))
    return results


if __name__ == "__main__":
    main()
