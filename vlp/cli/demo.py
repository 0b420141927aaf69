"""`vlp demo`: the whole pipeline, offline, on the built-in synthetic world.

Each capability of the suite adds a stage. Stages after the first run the same user-facing commands a user would type
(printed before they run), so the demo exercises the real code paths and shows how to use them.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vlp.world import SPLITS, generate_world

# The YAML configs live beside the packages in the repository (an editable install, as scripts/demo makes).
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@dataclass
class DemoRun:
    """Where the run lives; every stage finds the previous stages' outputs at these fixed paths."""

    run_dir: Path
    num_images: int
    seed: int

    @property
    def world_dir(self) -> Path:
        return self.run_dir / "world"

    @property
    def store_path(self) -> Path:
        return self.run_dir / "features" / "regions.h5"

    def environment(self) -> dict[str, str]:
        """The variables through which the demo configs (configs/*/demo_*.yaml) find this run's files."""
        return {"VLP_DEMO_DIR": str(self.run_dir), "VLP_DEMO_STORE": str(self.store_path)}


# How much of a failed command's log `run_command` shows.
FAILED_LOG_LINES = 40


def run_command(command: Sequence[str], env: dict[str, str] | None = None, log: Path | None = None) -> None:
    """Runs one user-facing command of the suite, echoing it (and the variables it gets) first; raises if it fails.

    The command's program is looked up beside this Python first, so the demo works from an unactivated virtualenv.
    With `log`, the command's output is appended to that file instead of the terminal (so that commands run side by
    side do not interleave), and the end of the log is printed if the command fails.
    """
    shown = " ".join(f"{key}={shlex.quote(value)}" for key, value in (env or {}).items())
    echo = f"$ {shown + ' ' if shown else ''}{shlex.join(command)}"
    print(echo + (f"  >> {log}" if log else ""), flush=True)
    beside = Path(sys.executable).parent / command[0]
    program = [str(beside) if beside.exists() else command[0], *command[1:]]
    environment = {**os.environ, **(env or {})}
    if log is None:
        subprocess.run(program, check=True, env=environment)
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as out:
        out.write(echo + "\n")
        out.flush()
        failed = subprocess.run(program, env=environment, stdout=out, stderr=subprocess.STDOUT).returncode
    if failed:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-FAILED_LOG_LINES:]
        print("\n".join([f"--- the last lines of {log}:", *tail]), file=sys.stderr, flush=True)
        raise subprocess.CalledProcessError(failed, program)


def stage_world(run: DemoRun) -> None:
    """Generates the synthetic world (images, COCO, Karpathy and VQA v2 files, scene graphs)."""
    world = generate_world(run.world_dir, num_images=run.num_images, seed=run.seed)
    print(world.describe())


def stage_features(run: DemoRun) -> None:
    """Extracts region features of every split with the given-boxes backend (boxes from the COCO instances)."""
    inputs = [
        arg for split in SPLITS for arg in ("--input", str(run.world_dir / "annotations" / f"instances_{split}.json"))
    ]
    config = CONFIGS / "features" / "demo_world.yaml"
    run_command(
        [
            "extract-features",
            "run",
            "--config",
            str(config),
            *inputs,
            "--image-root",
            str(run.world_dir / "images"),
            "--output",
            str(run.store_path),
        ]
    )
    run_command(["extract-features", "inspect", str(run.store_path)])


def stage_pretrain(run: DemoRun) -> None:
    """Pretrains a small model with Oscar's objectives (masked tokens over words and tags, polluted-tag contrastive)."""
    run_command(["vlp", "fit", "--config", str(CONFIGS / "pretrain" / "demo_oscar.yaml")], env=run.environment())


def stage_vqa(run: DemoRun) -> None:
    """Finetunes VQA from the pretrained model twice, with real and with shuffled regions, and compares the accuracy.

    `finetune` is run as a module, not imported: `vlp` never imports `finetune` (dependencies point one way).
    """
    run_command([sys.executable, "-m", "finetune.vqa.demo", "--run-dir", str(run.run_dir)], env=run.environment())


def stage_captioning(run: DemoRun) -> None:
    """Finetunes captioning from the pretrained model and captions the test images with real and shuffled regions."""
    run_command(
        [sys.executable, "-m", "finetune.captioning.demo", "--run-dir", str(run.run_dir)], env=run.environment()
    )


def stage_retrieval(run: DemoRun) -> None:
    """Finetunes retrieval from the pretrained model, ranks the test images and captions in the exact and the fast
    mode with real and shuffled regions, and names each test image's largest shape zero-shot from prompts."""
    run_command([sys.executable, "-m", "finetune.retrieval.demo", "--run-dir", str(run.run_dir)], env=run.environment())


STAGES: dict[str, Callable[[DemoRun], None]] = {
    "world": stage_world,
    "features": stage_features,
    "pretrain": stage_pretrain,
    "vqa": stage_vqa,
    "captioning": stage_captioning,
    "retrieval": stage_retrieval,
}


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
        try:
            STAGES[name](run)
        except subprocess.CalledProcessError as error:
            print(
                f"vlp demo: stage {name!r} failed ({shlex.join(error.cmd)} exited {error.returncode})", file=sys.stderr
            )
            return 1
        print(f"[{name} done in {time.perf_counter() - started:.1f}s]", flush=True)
    print(f"\nvlp demo: finished; everything is under {run.run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
