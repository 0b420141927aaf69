"""The retrieval demo: finetune the demo's pretrained model for image-text retrieval on the synthetic world, rank the
held-out test images and captions in the exact and the fast mode, each with the images' own regions and tags and with
those of another image (the control), and classify the test images' largest shape zero-shot from prompts.

    python -m finetune.retrieval.demo --run-dir runs/demo

`--run-dir` is the demo's folder (`VLP_DEMO_DIR`): it holds `world/`, the region store and the pretrained model of
`configs/pretrain/demo_oscar.yaml`. Every step is a user-facing command (`vlp fit`, `vlp predict`, `vlp eval
retrieval`, `vlp zero-shot`), echoed as it runs; the control adds `--data.init_args.shuffle_region_features=true` to
prediction only, so the same model ranks images it cannot see.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from vlp.cli.commands import run_command
from vlp.cli.zero_shot import read_labels
from vlp.report import StageSummary

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "finetune" / "demo_retrieval.yaml"
# How many times the control's R@1 the real regions must reach (both directions) for the demo to count as a success.
MIN_RATIO = 3.0
SHUFFLE = "--data.init_args.shuffle_region_features=true"
DIRECTIONS = ("image_to_text", "text_to_image")
FOLDS = 4  # the demo config's test folds
MODES = ("exact", "fast")
# By how many times chance the zero-shot top-1 accuracy must beat it.
MIN_ZERO_SHOT_RATIO = 1.5


def rank_and_score(run_dir: Path, config: Path, name: str, overrides: Sequence[str]) -> dict[str, float]:
    """Ranks the test gallery with the finetuned model and scores the rankings; returns `vlp eval retrieval`'s json."""
    root = run_dir / "finetune" / "retrieval"
    rankings, recall = root / f"{name}_rankings.json", root / f"{name}_recall.json"
    model = f"--model.init_args.init_from={root / 'finetuned'}"
    run_command(["vlp", "predict", "--config", str(config), model, f"--model.init_args.results={rankings}", *overrides])
    split_file = run_dir / "world" / "annotations" / "dataset_coco.json"
    command = ["vlp", "eval", "retrieval", f"--split-file={split_file}", "--split=test", f"--results={rankings}"]
    run_command([*command, f"--folds={FOLDS}", f"--output={recall}"])
    return json.loads(recall.read_text())


def zero_shot(run_dir: Path) -> tuple[float, float, int]:
    """Zero-shot accuracy at naming each test image's largest shape from prompts: (top-1, top-5, classes)."""
    root = run_dir / "finetune" / "retrieval"
    instances = run_dir / "world" / "annotations" / "instances_test.json"
    names = [category["name"] for category in json.loads(instances.read_text())["categories"]]
    classes = root / "shapes.txt"
    classes.write_text("\n".join(names) + "\n", encoding="utf-8")
    predictions = root / "zero_shot.json"
    store = os.environ.get("VLP_DEMO_STORE", str(run_dir / "features" / "regions.h5"))
    command = ["vlp", "zero-shot", f"--model={root / 'finetuned'}", f"--store={store}", f"--classes={classes}"]
    run_command([*command, f"--labels={instances}", "--tag-attributes", f"--output={predictions}"])
    labels = read_labels(instances)
    entries = json.loads(predictions.read_text())
    top1 = sum(entry["classes"][0] == labels[str(entry["image_id"])] for entry in entries) / len(entries)
    top5 = sum(labels[str(entry["image_id"])] in entry["classes"] for entry in entries) / len(entries)
    return 100 * top1, 100 * top5, len(names)


def table(results: dict[str, dict[str, float]]) -> list[str]:
    """R@1/5/10 both ways per run, one line each."""
    columns = [f"{arrow} R@{k}" for arrow in ("i->t", "t->i") for k in (1, 5, 10)]
    lines = [f"{'retrieval, test images':<22}" + "".join(f"{column:>11}" for column in columns) + f"{'rsum':>8}"]
    for name, recall in results.items():
        values = [recall[f"{direction}/R@{k}"] for direction in DIRECTIONS for k in (1, 5, 10)]
        lines.append(f"{name:<22}" + "".join(f"{value:>11.1f}" for value in values) + f"{recall['rsum']:>8.1f}")
    return lines


def mean_r1(recall: dict[str, float]) -> float:
    """R@1 averaged over the two directions."""
    return sum(recall[f"{direction}/R@1"] for direction in DIRECTIONS) / len(DIRECTIONS)


def summaries(
    results: dict[str, dict[str, float]], mode: str, zero_shot_top1: float, classes: int
) -> list[StageSummary]:
    """The demo report's records: retrieval in `mode` against its shuffled control, zero-shot against chance."""
    real, shuffled = results[f"{mode}, real"], results[f"{mode}, shuffled"]
    retrieval = StageSummary(
        stage="retrieval",
        metric=f"R@1 both ways averaged ({mode} mode, test folds)",
        value=mean_r1(real),
        controls={"regions shuffled at test": mean_r1(shuffled)},
        required_margin=MIN_RATIO,
        ratio=True,
        details=dict(real),
    )
    zero_shot_summary = StageSummary(
        stage="zero-shot",
        metric=f"zero-shot top-1, each test image's largest shape ({classes} classes)",
        value=zero_shot_top1,
        controls={"chance": 100 / classes},
        required_margin=MIN_ZERO_SHOT_RATIO,
        ratio=True,
    )
    return [retrieval, zero_shot_summary]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.retrieval.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"), help="the demo's folder (VLP_DEMO_DIR)")
    parser.add_argument("--config", type=Path, default=DEMO_CONFIG, help="the finetuning config")
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="evaluation modes to rank in, comma-separated (exact, fast; the summary takes the last)",
    )
    parser.add_argument(
        "--require-ratio",
        action="store_true",
        help=f"exit with status 1 unless the real R@1 is at least {MIN_RATIO:.0f}x the control's both ways",
    )
    parser.epilog = "Other arguments go to vlp fit and predict, e.g. --trainer.max_epochs=2 --seed_everything=1."
    args, overrides = parser.parse_known_args(argv)
    modes = args.modes.split(",")
    if not modes or any(mode not in MODES for mode in modes):
        parser.error(f"--modes takes {', '.join(MODES)}, comma-separated; got {args.modes!r}")
    os.environ["VLP_DEMO_DIR"] = str(args.run_dir)
    run_command(["vlp", "fit", "--config", str(args.config), *overrides])
    results = {}
    for mode in modes:
        chosen = [*overrides, f"--model.init_args.evaluation={mode}"]
        results[f"{mode}, real"] = rank_and_score(args.run_dir, args.config, f"{mode}_real", chosen)
        results[f"{mode}, shuffled"] = rank_and_score(args.run_dir, args.config, f"{mode}_shuffled", [*chosen, SHUFFLE])
    top1, top5, classes = zero_shot(args.run_dir)
    ratios = [
        results[f"{mode}, real"][f"{direction}/R@1"] / max(results[f"{mode}, shuffled"][f"{direction}/R@1"], 1e-9)
        for mode in modes
        for direction in DIRECTIONS
    ]
    verdict = "retrieval reads the image" if min(ratios) >= MIN_RATIO else f"below {MIN_RATIO:.0f}x"
    lines = [*table(results), f"R@1 real / shuffled: at least {min(ratios):.1f}x: {verdict}"]
    chance = f"chance {100 / classes:.1f} and {min(100.0, 500 / classes):.1f}"
    lines.append(f"zero-shot, each test image's largest shape: top-1 {top1:.1f}, top-5 {top5:.1f} ({chance})")
    print("\n".join(lines))
    for summary in summaries(results, modes[-1], top1, classes):
        summary.save(args.run_dir / "finetune" / "retrieval")
    return 1 if args.require_ratio and min(ratios) < MIN_RATIO else 0


if __name__ == "__main__":
    raise SystemExit(main())
