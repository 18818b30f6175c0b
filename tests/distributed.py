"""Launch `tests/distributed_child.py` on 2 CPU processes with `accelerate launch`, offline.

accelerate 1.15 starts a single process for `--cpu --num_processes 2` (its plain launcher; several CPU
processes need MPI there): `--multi_gpu` starts them through torch's elastic launcher, and on a
machine without a GPU they join a gloo process group (the project makes its accelerate state with
`cpu` where there is no GPU). Everything is on the command line, so no `accelerate config` file is read.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = ROOT / "tests" / "distributed_child.py"
PROCESSES = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(*args: str, processes: int = PROCESSES) -> list[str]:
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(free_port()), str(CHILD), *args]


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1", **extra)
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):  # a launch inside a launch
        env.pop(name, None)
    return env


def launch(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """Run the child scenario on 2 processes; fails the test with the children's output on an error."""
    done = subprocess.run(launch_command(*args), env=child_env(**env), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise AssertionError(f"accelerate launch exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
    return done
