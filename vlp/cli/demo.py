"""`vlp demo`: the whole pipeline, offline, on the built-in synthetic world.

Each capability of the suite adds a stage. Stages after the first run the same user-facing commands a user would type
(printed before they run), so the demo exercises the real code paths and shows how to use them.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vlp.world import WorldFiles, generate_world


@dataclass
class DemoRun:
    """What the stages share: where the run lives and what earlier stages produced."""

    run_dir: Path
    num_images: int
    seed: int
    world: WorldFiles | None = None


def stage_world(run: DemoRun) -> None:
    """Generates the synthetic world (images, COCO, Karpathy and VQA v2 files, scene graphs)."""
    run.world = generate_world(run.run_dir / "world", num_images=run.num_images, seed=run.seed)
    print(run.world.describe())


STAGES: dict[str, Callable[[DemoRun], None]] = {
    "world": stage_world,
}


def run_command(command: Sequence[str]) -> None:
    """Runs one user-facing command of the suite, echoing it first; raises if it fails."""
    print(f"$ {shlex.join(command)}", flush=True)
    subprocess.run(list(command), check=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vlp demo", description=__doc__)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"), help="folder for everything the demo writes")
    parser.add_argument("--num-images", type=int, default=2000, help="size of the synthetic world")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"comma-separated subset of the stages, in order ({', '.join(STAGES)})",
    )
    args = parser.parse_args(list(argv))
    unknown = [s for s in args.stages.split(",") if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    run = DemoRun(run_dir=args.run_dir, num_images=args.num_images, seed=args.seed)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    for name in args.stages.split(","):
        print(f"\n== vlp demo: {name} ==", flush=True)
        started = time.perf_counter()
        STAGES[name](run)
        print(f"[{name} done in {time.perf_counter() - started:.1f}s]", flush=True)
    print(f"\nvlp demo: finished; everything is under {run.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
