"""The VQA demo: finetune the demo's pretrained model on the synthetic world twice, with each image's own regions and
with regions shuffled across images, and score both on the held-out test questions with the official accuracy.

    python -m finetune.vqa.demo --run-dir runs/demo

`--run-dir` is the demo's folder (`VLP_DEMO_DIR`): it holds `world/`, the region store (`features/regions.h5`, or
`VLP_DEMO_STORE`; the configs read its feature width from it) and the pretrained model of
`configs/pretrain/demo_oscar.yaml`.
Each run is the user-facing commands `vlp fit`, `vlp predict` and `vlp eval vqa`, echoed as they run; the control adds
`--data.init_args.shuffle_region_features=true`. Learning that depends on the image shows as the gap between the two.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vlp.cli.demo import run_command

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "finetune" / "demo_vqa.yaml"
# The margin by which real region features must beat shuffled ones for the demo to count as a success.
MIN_MARGIN = 25.0
SHUFFLE = "--data.init_args.shuffle_region_features=true"
# Each run's output when the two run side by side, in its folder.
LOG_NAME = "demo.log"


@dataclass(frozen=True)
class VQADemoResult:
    """The official accuracies (percent) of the two runs: `overall` and `perAnswerType` as `vlp eval vqa` writes."""

    real: dict[str, object]
    shuffled: dict[str, object]

    @property
    def margin(self) -> float:
        """Overall accuracy with real features minus with shuffled ones, in points."""
        return float(self.real["overall"]) - float(self.shuffled["overall"])  # type: ignore[arg-type]

    def report(self) -> str:
        """A small table: overall and per answer type, real next to shuffled."""
        real_types, shuffled_types = self.real["perAnswerType"], self.shuffled["perAnswerType"]
        assert isinstance(real_types, dict) and isinstance(shuffled_types, dict)
        lines = [f"{'VQA accuracy (test questions)':<32}{'real':>8}{'shuffled':>10}"]
        lines.append(f"{'overall':<32}{self.real['overall']:>8.2f}{self.shuffled['overall']:>10.2f}")
        lines += [f"  {kind:<30}{real_types[kind]:>8.2f}{shuffled_types[kind]:>10.2f}" for kind in sorted(real_types)]
        verdict = "real features win" if self.margin >= MIN_MARGIN else f"margin below {MIN_MARGIN:.0f} points"
        return "\n".join([*lines, f"margin {self.margin:+.2f} points: {verdict}"])


def finetune_and_score(
    run_dir: Path, name: str, config: Path, overrides: Sequence[str], logged: bool = False
) -> dict[str, object]:
    """Fits, predicts the test questions and scores them; returns the accuracy json of `vlp eval vqa`.

    The run's folder is set through VLP_DEMO_VQA_ROOT rather than `--trainer.default_root_dir`, so that the checkpoint
    folder the config derives from it moves too. With `logged`, training and prediction write to `demo.log` there.
    """
    root = run_dir / "finetune" / name
    common = ["--config", str(config), *overrides]
    folder = {"VLP_DEMO_VQA_ROOT": str(root)}
    log = root / LOG_NAME if logged else None
    run_command(["vlp", "fit", *common], env=folder, log=log)
    run_command(["vlp", "predict", *common, f"--ckpt_path={root / 'checkpoints' / 'last.ckpt'}"], env=folder, log=log)
    vqa = run_dir / "world" / "vqa"
    accuracy = root / "test_accuracy.json"
    run_command(
        [
            "vlp",
            "eval",
            "vqa",
            f"--questions={vqa / 'v2_OpenEnded_mscoco_test_questions.json'}",
            f"--annotations={vqa / 'v2_mscoco_test_annotations.json'}",
            f"--results={root / 'vqa_results.json'}",
            f"--output={accuracy}",
        ],
        log=log,
    )
    return json.loads(accuracy.read_text())


def run_vqa_demo(
    run_dir: Path, config: Path = DEMO_CONFIG, overrides: Sequence[str] = (), side_by_side: bool = True
) -> VQADemoResult:
    """Runs the real and the shuffled finetuning in `run_dir` (the demo's `VLP_DEMO_DIR`) and scores both.

    Subprocesses get one intra-op thread each unless `OMP_NUM_THREADS` is set: more threads than free cores slow
    models this small down several times over. With `side_by_side` the two runs train at once, each on one core,
    which takes little more than half the time of one after the other on two cores; their output then goes to
    `finetune/<run>/demo.log` rather than the terminal.
    """
    os.environ["VLP_DEMO_DIR"] = str(run_dir)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    runs = {"vqa": list(overrides), "vqa_shuffled": [*overrides, SHUFFLE]}
    if not side_by_side:
        real, shuffled = (finetune_and_score(run_dir, name, config, extra) for name, extra in runs.items())
        return VQADemoResult(real, shuffled)
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        futures = [pool.submit(finetune_and_score, run_dir, name, config, extra, True) for name, extra in runs.items()]
        real, shuffled = (future.result() for future in futures)
    return VQADemoResult(real, shuffled)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.vqa.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"), help="the demo's folder (VLP_DEMO_DIR)")
    parser.add_argument("--config", type=Path, default=DEMO_CONFIG, help="the finetuning config")
    parser.add_argument(
        "--require-margin",
        action="store_true",
        help=f"exit with status 1 unless real features win by at least {MIN_MARGIN:.0f} points (the report says "
        "either way)",
    )
    parser.add_argument(
        "--one-after-the-other",
        action="store_true",
        help=f"train the shuffled run after the real one, output in the terminal (default: both at once, output in "
        f"finetune/<run>/{LOG_NAME})",
    )
    parser.epilog = "Other arguments go to both runs' vlp fit and predict, e.g. --trainer.max_epochs=4."
    args, overrides = parser.parse_known_args(argv)
    result = run_vqa_demo(args.run_dir, args.config, overrides, side_by_side=not args.one_after_the_other)
    print(result.report())
    return 1 if args.require_margin and result.margin < MIN_MARGIN else 0


if __name__ == "__main__":
    sys.exit(main())
