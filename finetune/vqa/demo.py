"""The VQA demo: finetune the demo's pretrained model on the synthetic world, score it on the held-out test questions
with the official accuracy, and score two controls the same way: the same model shown another image's regions and
tags (shuffled at test time) and the blind question-type prior (`vlp eval vqa-prior`).

    python -m finetune.vqa.demo --run-dir runs/demo

`--run-dir` is the demo's folder (`VLP_DEMO_DIR`): it holds `world/`, the region store (`features/regions.h5`, or
`VLP_DEMO_STORE`; the configs read its feature width from it) and the pretrained model of
`configs/pretrain/demo_oscar.yaml`. Every step is a user-facing command (`vlp fit`, `vlp predict`, `vlp eval vqa`),
echoed as it runs; the shuffled control adds `--data.init_args.shuffle_region_features=true` to prediction. Given as
an argument, that flag trains and tests the model on shuffled regions: the stricter control `vlp demo --full` runs.
Learning that depends on the image shows as the gap between the model and its controls.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vlp.cli.commands import run_command
from vlp.report import StageSummary

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "finetune" / "demo_vqa.yaml"
# The margin (points) by which the model must beat its best control for the demo to count as a success.
MIN_MARGIN = 10.0
SHUFFLE = "--data.init_args.shuffle_region_features=true"
CONTROLS = {"shuffled": "regions shuffled at test", "prior": "question-type prior"}


@dataclass(frozen=True)
class VQADemoResult:
    """The official accuracies (percent) of the model and its controls: `overall` and `perAnswerType` as `vlp eval vqa`
    writes them; `controls` by the names of `CONTROLS`."""

    real: dict[str, object]
    controls: dict[str, dict[str, object]]

    @property
    def margin(self) -> float:
        """Overall accuracy of the model minus that of its best control, in points."""
        return float(self.real["overall"]) - max(float(c["overall"]) for c in self.controls.values())  # type: ignore[arg-type]

    def report(self) -> str:
        """A small table: overall and per answer type, the model next to each control."""
        columns = [("model", self.real), *((CONTROLS[name], scores) for name, scores in self.controls.items())]
        width = max(len(title) for title, _ in columns) + 2
        lines = [f"{'VQA accuracy (test questions)':<32}" + "".join(f"{title:>{width}}" for title, _ in columns)]
        lines.append(f"{'overall':<32}" + "".join(f"{float(s['overall']):>{width}.2f}" for _, s in columns))  # type: ignore[arg-type]
        kinds = sorted(self.real["perAnswerType"])  # type: ignore[arg-type]
        for kind in kinds:
            row = "".join(f"{float(s['perAnswerType'][kind]):>{width}.2f}" for _, s in columns)  # type: ignore[index]
            lines.append(f"  {kind:<30}{row}")
        verdict = "the model reads the image" if self.margin >= MIN_MARGIN else f"margin below {MIN_MARGIN:.0f} points"
        return "\n".join([*lines, f"margin over the best control {self.margin:+.2f} points: {verdict}"])

    def summary(self) -> StageSummary:
        """The demo report's record of this stage."""
        return StageSummary(
            stage="vqa",
            metric="VQA accuracy (test questions)",
            value=float(self.real["overall"]),  # type: ignore[arg-type]
            controls={CONTROLS[name]: float(s["overall"]) for name, s in self.controls.items()},  # type: ignore[arg-type]
            required_margin=MIN_MARGIN,
            details={kind: float(v) for kind, v in self.real["perAnswerType"].items()},  # type: ignore[union-attr]
        )


def score(run_dir: Path, root: Path, name: str) -> dict[str, object]:
    """Scores `root/<name>_results.json` on the test questions; returns `vlp eval vqa`'s json (also written beside)."""
    vqa = run_dir / "world" / "vqa"
    accuracy = root / f"{name}_accuracy.json"
    run_command(
        [
            "vlp",
            "eval",
            "vqa",
            f"--questions={vqa / 'v2_OpenEnded_mscoco_test_questions.json'}",
            f"--annotations={vqa / 'v2_mscoco_test_annotations.json'}",
            f"--results={root / f'{name}_results.json'}",
            f"--output={accuracy}",
        ]
    )
    return json.loads(accuracy.read_text())


def fit(root: Path, config: Path, overrides: Sequence[str]) -> None:
    """Finetunes into `root`, set through VLP_DEMO_VQA_ROOT rather than `--trainer.default_root_dir` so that the
    checkpoint folder the config derives from it moves too."""
    # A checkpoint of an earlier run would make the new `last.ckpt` a `last-v1.ckpt`, and predict the old model.
    shutil.rmtree(root / "checkpoints", ignore_errors=True)
    run_command(["vlp", "fit", "--config", str(config), *overrides], env={"VLP_DEMO_VQA_ROOT": str(root)})


def predict(root: Path, config: Path, overrides: Sequence[str], name: str) -> None:
    """Answers the test questions with `root`'s model into `root/<name>_results.json`."""
    checkpoint = f"--ckpt_path={root / 'checkpoints' / 'last.ckpt'}"
    run_command(
        ["vlp", "predict", "--config", str(config), *overrides, checkpoint], env={"VLP_DEMO_VQA_ROOT": str(root)}
    )
    # The results path comes back from the checkpoint's arguments: move the file it wrote.
    (root / "vqa_results.json").replace(root / f"{name}_results.json")


def prior(run_dir: Path, root: Path) -> None:
    """Answers the test questions with the question-type prior of the training answers."""
    vqa = run_dir / "world" / "vqa"
    run_command(
        [
            "vlp",
            "eval",
            "vqa-prior",
            f"--train-questions={vqa / 'v2_OpenEnded_mscoco_train_questions.json'}",
            f"--train-annotations={vqa / 'v2_mscoco_train_annotations.json'}",
            f"--questions={vqa / 'v2_OpenEnded_mscoco_test_questions.json'}",
            f"--results={root / 'prior_results.json'}",
        ]
    )


def run_vqa_demo(run_dir: Path, config: Path = DEMO_CONFIG, overrides: Sequence[str] = ()) -> VQADemoResult:
    """Finetunes and scores the model and its controls in `run_dir` (the demo's `VLP_DEMO_DIR`); writes the stage
    summary of the demo report into `finetune/vqa/`. `overrides` go to `vlp fit` and `vlp predict`."""
    os.environ["VLP_DEMO_DIR"] = str(run_dir)
    root = run_dir / "finetune" / "vqa"
    fit(root, config, overrides)
    predict(root, config, overrides, "real")
    predict(root, config, [*overrides, SHUFFLE], "shuffled")
    prior(run_dir, root)
    result = VQADemoResult(score(run_dir, root, "real"), {name: score(run_dir, root, name) for name in CONTROLS})
    result.summary().save(root)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.vqa.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"), help="the demo's folder (VLP_DEMO_DIR)")
    parser.add_argument("--config", type=Path, default=DEMO_CONFIG, help="the finetuning config")
    parser.add_argument(
        "--require-margin",
        action="store_true",
        help=f"exit with status 1 unless the model beats its best control by {MIN_MARGIN:.0f} points (the report says "
        "either way)",
    )
    parser.epilog = "Other arguments go to vlp fit and predict, e.g. --trainer.max_epochs=4 --seed_everything=1."
    args, overrides = parser.parse_known_args(argv)
    result = run_vqa_demo(args.run_dir, args.config, overrides)
    print(result.report())
    return 1 if args.require_margin and result.margin < MIN_MARGIN else 0


if __name__ == "__main__":
    sys.exit(main())
