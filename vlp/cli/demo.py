"""`vlp demo`: the whole pipeline, offline, on the built-in synthetic world, ending in a report with pictures.

Each capability of the suite adds a stage. Stages after the first run the same user-facing commands a user would type
(printed before they run), so the demo exercises the real code paths and shows how to use them. A stage that finished
in the run folder before is reused (`--force` runs it again); once a stage runs, every later one runs too, since its
inputs changed. `--full` then runs the science behind the default's numbers (`vlp.cli.demo_full`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vlp.cli.commands import run_command
from vlp.report import StageSummary
from vlp.report.curves import latest_metrics_file, read_metrics
from vlp.report.markdown import StageRun
from vlp.world import SPLITS, generate_world

# The YAML configs live beside the packages in the repository (an editable install, as scripts/demo makes).
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
# Pretraining must beat chance at telling real tags from polluted ones by this many points (validation accuracy).
PRETRAIN_MARGIN = 10.0


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

    def record(self, stage: str) -> Path:
        """The file saying that `stage` finished, and in how many seconds."""
        return self.run_dir / "stages" / f"{stage}.json"

    def finished(self, stage: str) -> float | None:
        """The seconds `stage` took when it last finished here, or None when it has not."""
        path = self.record(stage)
        return float(json.loads(path.read_text())["seconds"]) if path.is_file() else None

    def environment(self) -> dict[str, str]:
        """The variables through which the demo configs (configs/*/demo_*.yaml) find this run's files."""
        return {"VLP_DEMO_DIR": str(self.run_dir), "VLP_DEMO_STORE": str(self.store_path)}


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
    command = ["extract-features", "run", "--config", str(config), *inputs]
    run_command([*command, "--image-root", str(run.world_dir / "images"), "--output", str(run.store_path)])
    run_command(["extract-features", "inspect", str(run.store_path)])


def pretrain_summary(run_dir: Path, contrastive_classes: int = 2) -> StageSummary:
    """Pretraining's record for the report, from its validation log: polluted-tag contrastive accuracy against
    chance, with masked-token and InfoNCE accuracy beside it.

    Raises:
        ValueError: the run left no validation log.
    """
    root = run_dir / "pretrain" / "oscar"
    log = latest_metrics_file(root)
    metrics = read_metrics(log) if log is not None else {}
    if "val/contrastive_acc" not in metrics:
        raise ValueError(f"{root}: no validation log with val/contrastive_acc")
    details = {
        f"{name} ({when})": metrics[f"val/{name}"][index][1]
        for name in ("mlm_acc", "infonce_acc")
        if f"val/{name}" in metrics
        for when, index in (("first epoch", 0), ("last epoch", -1))
    }
    return StageSummary(
        stage="pretrain",
        metric="polluted-tag contrastive accuracy (val, %)",
        value=100 * metrics["val/contrastive_acc"][-1][1],
        controls={"chance": 100 / contrastive_classes},
        required_margin=PRETRAIN_MARGIN,
        details=details,
    )


def stage_pretrain(run: DemoRun) -> None:
    """Pretrains a small model with Oscar's objectives (masked tokens over words and tags, polluted-tag contrastive)
    and InfoNCE, then records its validation contrastive accuracy against chance."""
    run_command(["vlp", "fit", "--config", str(CONFIGS / "pretrain" / "demo_oscar.yaml")], env=run.environment())
    pretrain_summary(run.run_dir).save(run.run_dir / "pretrain" / "oscar")


def stage_vqa(run: DemoRun) -> None:
    """Finetunes VQA from the pretrained model and scores it against regions shuffled at test and the blind prior.

    `finetune` is run as a module, not imported: `vlp` never imports `finetune` (dependencies point one way).
    """
    run_command([sys.executable, "-m", "finetune.vqa.demo", "--run-dir", str(run.run_dir)], env=run.environment())


def stage_captioning(run: DemoRun) -> None:
    """Finetunes captioning from the pretrained model and captions the test images with real and shuffled regions."""
    command = [sys.executable, "-m", "finetune.captioning.demo", "--run-dir", str(run.run_dir)]
    run_command(command, env=run.environment())


def stage_retrieval(run: DemoRun) -> None:
    """Finetunes retrieval from the pretrained model, ranks the test images and captions in the fast mode with real
    and shuffled regions, and names each test image's largest shape zero-shot from prompts."""
    command = [sys.executable, "-m", "finetune.retrieval.demo", "--run-dir", str(run.run_dir), "--modes=fast"]
    run_command(command, env=run.environment())


STAGES: dict[str, tuple[Callable[[DemoRun], None], str]] = {
    "world": (stage_world, "the synthetic world: images, COCO, Karpathy and VQA v2 files"),
    "features": (stage_features, "region features of every image into the store"),
    "pretrain": (stage_pretrain, "Oscar pretraining"),
    "vqa": (stage_vqa, "VQA finetuning"),
    "captioning": (stage_captioning, "captioning finetuning"),
    "retrieval": (stage_retrieval, "retrieval finetuning and zero-shot classification"),
}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vlp demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"), help="folder for everything the demo writes")
    parser.add_argument("--num-images", type=int, default=2000, help="size of the synthetic world")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"comma-separated subset of the stages, in order ({', '.join(STAGES)})",
    )
    parser.add_argument("--force", action="store_true", help="run the stages again even where they finished before")
    parser.add_argument("--no-report", action="store_true", help="do not write report.md")
    parser.add_argument(
        "--full",
        action="store_true",
        help="then train every task again with shuffled regions at three seeds, and VQA from scratch (about an hour "
        "on 2 cores); the tables go in report.md",
    )
    args = parser.parse_args(list(argv))
    unknown = [s for s in args.stages.split(",") if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    return args


def run_stages(run: DemoRun, names: Sequence[str], force: bool) -> list[StageRun] | None:
    """Runs (or reuses) the stages in order; returns how each went, or None after printing which one failed."""
    runs, rerun = [], force
    for name in names:
        function, description = STAGES[name]
        previous = run.finished(name)
        if previous is not None and not rerun:
            print(f"\n== vlp demo: {name} == finished before in {previous:.0f}s; reused (--force runs it again)")
            runs.append(StageRun(name, description, previous, reused=True))
            continue
        rerun = True  # the stages after this one read what it writes
        print(f"\n== vlp demo: {name} ==", flush=True)
        run.record(name).unlink(missing_ok=True)
        started = time.perf_counter()
        try:
            function(run)
        except subprocess.CalledProcessError as error:
            command = " ".join(str(part) for part in error.cmd)
            print(f"vlp demo: stage {name!r} failed ({command} exited {error.returncode})", file=sys.stderr)
            return None
        seconds = time.perf_counter() - started
        run.record(name).parent.mkdir(parents=True, exist_ok=True)
        run.record(name).write_text(json.dumps({"seconds": seconds}) + "\n")
        print(f"[{name} done in {seconds:.1f}s]", flush=True)
        runs.append(StageRun(name, description, seconds))
    return runs


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    run = DemoRun(run_dir=args.run_dir, num_images=args.num_images, seed=args.seed)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    stages = run_stages(run, args.stages.split(","), args.force)
    if stages is None:
        return 1
    from vlp.cli.demo_full import run_full
    from vlp.report.demo_report import build_demo_report

    appendix: list[str] = []
    try:
        if args.full:
            appendix = run_full(run.run_dir, run.store_path, args.force)
        if args.no_report:
            print(f"\nvlp demo: finished; everything is under {run.run_dir}")
            return 0
        print("\n== vlp demo: report ==", flush=True)
        report = build_demo_report(run.run_dir, run.store_path, stages, appendix)
    except subprocess.CalledProcessError as error:
        command = " ".join(str(part) for part in error.cmd)
        print(f"vlp demo: {command} exited {error.returncode}", file=sys.stderr)
        return 1
    print(f"\nvlp demo: finished; the report is {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
