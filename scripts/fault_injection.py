"""Kill builds with SIGKILL at random moments and check that nothing finished is ever broken.

Runs `polyglot-kd build pt --stages trim,distill,eval,release` in a child process again and again,
killing it (SIGKILL) at a random moment of a random stage, including inside a training checkpoint
save, and after every kill checks the work directory: each finished stage has every file its
manifest lists, with the recorded SHA-256, and weights that load and are finite. Then it runs two
builds of the language into one work directory at once, lets the build finish, and compares it with
an uninterrupted build: the trimmed model's hashes must be equal and the student's retrieval too.

    python scripts/fault_injection.py --tiny --kills 20     # tiny in-process models (CI, a few minutes)
    python scripts/fault_injection.py --kills 20            # the embedded teacher and the real pt verses

Exit status 0 when every check held; the last line says how many kills and checks there were.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = "trim,distill,eval,release"
# what a kill waits for (an event the child writes), then at most this many seconds more
TARGETS = {"trim": 1.5, "distill": 4.0, "save": 0.0, "eval": 2.0, "release": 1.5}
STAGE_OF = {"trim": "trim", "distill": "distill", "save": "distill", "eval": "eval", "release": "release"}


# ---------------------------------------------------------------------------------------- the child

def run_child(workdir: str, events: str, tiny: bool) -> int:
    """One build, with events written at the moments a kill aims for."""
    sys.path.insert(0, str(REPO))
    from accelerate import Accelerator

    from polyglot_kd import cli
    from polyglot_kd.pipeline.stages import STAGES as REGISTRY

    log = open(events, "a", buffering=1)

    def event(text: str) -> None:
        log.write(text + "\n")
        log.flush()

    if tiny:  # the test suite's stand-in corpora
        from tests.tiny import corpus_stand_ins

        for module, name, stand_in in corpus_stand_ins():
            setattr(module, name, stand_in)
    for name in REGISTRY:
        module = REGISTRY.get(name)
        module.run = _announce(module.run, event, name)
    real_save = Accelerator.save_state

    def save_state(self, output_dir=None, **kwargs):
        out = real_save(self, output_dir, **kwargs)
        event("save")  # the checkpoint is written but still a .partial folder: a kill now is mid-save
        time.sleep(0.3)
        return out

    Accelerator.save_state = save_state
    return cli.main(["build", "pt", "--stages", STAGES, "--workdir", workdir])


def _announce(run, event, name):
    def wrapped(build, out):
        event(name)
        return run(build, out)
    return wrapped


# ---------------------------------------------------------------------------------------- the world

def make_world(root: Path, tiny: bool) -> dict:
    """A languages folder (and for --tiny a tiny teacher and corpora); returns the child's env."""
    langs = root / "languages"
    langs.mkdir(parents=True)
    env = dict(os.environ, POLYGLOT_KD_LANGUAGES=str(langs), PYTHONUNBUFFERED="1")
    distill = "[distill]\nsteps = 60\ncheckpoint_every = 10\neval_every = 20\ntime_budget_minutes = 0\n"
    if tiny:
        sys.path.insert(0, str(REPO))
        from tests.tiny import save_tiny_model

        teacher = save_tiny_model(root / "teacher")
        (langs / "pt.toml").write_text(
            f'name = "Portuguese"\nteacher = "{teacher}"\n[corpus]\nbible = "a"\nudhr = "por_BR"\n'
            f'[trim]\ntop_n = 40\n[distill]\nstudent_layers = 1\nsteps = 200\nbatch_size = 2\nwarmup_steps = 1\n'
            f'checkpoint_every = 25\neval_every = 50\neval_items = 3\ntime_budget_minutes = 0\n'
            f'[eval]\nbaselines = []\n[release]\nspeed_sentences = 8\nspeed_rounds = 1\n')
        env["POLYGLOT_KD_CACHE"] = str(root / "cache")
    else:  # the shipped pt file (it has no [distill] table) with a short distillation
        shipped = (REPO / "languages" / "pt.toml").read_text()
        if "[distill]" in shipped:
            raise SystemExit("languages/pt.toml has a [distill] table; this script expects the defaults there")
        (langs / "pt.toml").write_text(shipped.replace('baselines = ["e5-small-enpt"]', "baselines = []")
                                       + "\n" + distill + "[release]\nspeed_sentences = 16\nspeed_rounds = 1\n")
    return env


def child_command(workdir: Path, events: Path, tiny: bool) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(workdir), str(events)]
    return cmd + (["--tiny-corpora"] if tiny else [])


# ---------------------------------------------------------------------------------------- checks

def check_build(root: Path) -> int:
    """Every finished stage complete and intact; returns the number of files checked."""
    sys.path.insert(0, str(REPO))
    from polyglot_kd.core.files import sha256
    from polyglot_kd.core.weights import check_weights

    checked = 0
    if not root.is_dir():
        return 0
    for stage_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        manifest = stage_dir / "manifest.json"
        if stage_dir.name == "tasks":
            continue
        if not manifest.is_file():
            raise AssertionError(f"{stage_dir} exists without a manifest: a half-finished stage looks finished")
        files = json.loads(manifest.read_text())["files"]
        for rel, digest in files.items():
            path = stage_dir / rel
            if not path.is_file() or sha256(path) != digest:
                raise AssertionError(f"{path}: missing or changed since its stage finished")
            checked += 1
        if (stage_dir / "model").is_dir() and any((stage_dir / "model").glob("*.safetensors")):
            check_weights(stage_dir / "model")
    return checked


def retrieval(root: Path) -> dict:
    report = json.loads((root / "eval" / "report.json").read_text())
    return {m: {d: round(s["mean"], 6) for d, s in r["retrieval"].items()} for m, r in report["models"].items()}


def trim_hashes(root: Path) -> dict:
    files = json.loads((root / "trim" / "manifest.json").read_text())["files"]
    return {k: v for k, v in files.items() if k.startswith("model/") or k.endswith(".npy")}


# ---------------------------------------------------------------------------------------- the run

def build_once(workdir: Path, env: dict, tiny: bool, log) -> int:
    events = workdir.parent / "events-final.txt"
    return subprocess.run(child_command(workdir, events, tiny), env=env, stdout=log, stderr=log).returncode


def kill_round(workdir: Path, env: dict, tiny: bool, target: str, rng: random.Random, log) -> str:
    """Start a build, kill it at `target` (+ a random delay); 'killed', or 'finished' if it ended first."""
    events = workdir.parent / f"events-{time.monotonic_ns()}.txt"
    events.touch()
    proc = subprocess.Popen(child_command(workdir, events, tiny), env=env, stdout=log, stderr=log)
    while proc.poll() is None:
        if target in events.read_text().split():
            time.sleep(rng.uniform(0, TARGETS[target]))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return "killed"
        time.sleep(0.02)
    return "finished" if proc.returncode == 0 else f"failed ({proc.returncode})"


def concurrent_round(workdir: Path, env: dict, tiny: bool, log) -> list[int]:
    events = workdir.parent / "events-concurrent.txt"
    procs = [subprocess.Popen(child_command(workdir, events, tiny), env=env, stdout=log, stderr=log)
             for _ in range(2)]
    return [p.wait() for p in procs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="tiny in-process teacher and corpora (no downloads)")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs to deliver (default 20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the work folders here instead of a temporary folder")
    parser.add_argument("--child", nargs=2, metavar=("WORKDIR", "EVENTS"), help=argparse.SUPPRESS)
    parser.add_argument("--tiny-corpora", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return run_child(args.child[0], args.child[1], args.tiny_corpora)
    if args.kills < 1:
        parser.error(f"--kills must be >= 1, got {args.kills}")

    rng = random.Random(args.seed)
    root = args.keep or Path(tempfile.mkdtemp(prefix="polyglot-kd-faults-"))
    root.mkdir(parents=True, exist_ok=True)
    env = make_world(root / "world", args.tiny)
    log = open(root / "children.log", "a")
    print(f"work folders and the children's log in {root}", flush=True)

    reference = root / "reference"
    if build_once(reference, env, args.tiny, log) != 0:
        raise SystemExit(f"the uninterrupted reference build failed; see {root / 'children.log'}")
    print("reference build done", flush=True)

    workdir = root / "faulty"
    kills = checks = 0
    targets = list(TARGETS)
    outcomes: dict[str, int] = {}
    while kills < args.kills:
        target = targets[kills % len(targets)] if rng.random() < 0.7 else rng.choice(targets)
        # a finished stage is skipped by the next build: remove it, so the kill has something to hit
        shutil.rmtree(workdir / "pt" / STAGE_OF[target], ignore_errors=True)
        outcome = kill_round(workdir, env, args.tiny, target, rng, log)
        outcomes[f"{target}: {outcome}"] = outcomes.get(f"{target}: {outcome}", 0) + 1
        if outcome.startswith("failed"):
            raise SystemExit(f"a build failed by itself after a kill (at {target}); see {root / 'children.log'}")
        kills += outcome == "killed"
        checks += check_build(workdir / "pt")
        print(f"{target:8} {outcome:10} kills so far {kills}", flush=True)

    for stage in ("distill", "eval", "release"):  # give both builds work to contend for
        shutil.rmtree(workdir / "pt" / stage, ignore_errors=True)
    codes = concurrent_round(workdir, env, args.tiny, log)
    checks += check_build(workdir / "pt")
    print(f"two builds at once: exit codes {codes}", flush=True)
    if sorted(codes) not in ([0, 0], [0, 2]):
        raise SystemExit(f"concurrent builds ended with {codes}; expected both 0, or 0 and 2 (refused: locked)")
    if build_once(workdir, env, args.tiny, log) != 0:
        raise SystemExit("the final rerun failed")
    checks += check_build(workdir / "pt")

    if trim_hashes(workdir / "pt") != trim_hashes(reference / "pt"):
        raise SystemExit("the trimmed model differs from the uninterrupted build's")
    if retrieval(workdir / "pt") != retrieval(reference / "pt"):
        raise SystemExit(f"retrieval differs: {retrieval(workdir / 'pt')} vs {retrieval(reference / 'pt')}")
    for what, n in sorted(outcomes.items()):
        print(f"  {what}: {n}")
    print(f"fault injection: {kills} kills, {checks} file checks, concurrent {codes}, final build equal to the "
          "uninterrupted one (trim hashes, retrieval)")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
