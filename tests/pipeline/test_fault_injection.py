"""The fault-injection script on the tiny models: 20 SIGKILLs at random moments of every stage (and
inside checkpoint saves), two builds at once, and a final build equal to an uninterrupted one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fault_injection.py"


def test_twenty_kills_break_nothing_and_the_final_build_equals_an_uninterrupted_one(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--kills", "20", "--keep", str(tmp_path)],
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("fault injection: 20 kills") and "equal to the uninterrupted one" in last
    assert "save: killed" in done.stdout  # some kills landed inside a checkpoint save
