"""The captioning demo: finetune the demo's pretrained model on the synthetic world's captions, then caption the
held-out test images twice, with each image's own regions and tags and with those of another image (the control),
and score both with `vlp eval caption`.

    python -m finetune.captioning.demo --run-dir runs/demo

`--run-dir` is the demo's folder (`VLP_DEMO_DIR`): it holds `world/`, the region store and the pretrained model of
`configs/pretrain/demo_oscar.yaml`. Every step is a user-facing command (`vlp fit`, `vlp predict`, `vlp eval
caption`), echoed as it runs; the control adds `--data.init_args.shuffle_region_features=true` to prediction only, so
the same model captions images it cannot see. Captions that depend on the image show as the gap between the two.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from vlp.cli.commands import run_command
from vlp.report import StageSummary

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "finetune" / "demo_captioning.yaml"
# How many times the shuffled control's CIDEr-D the real captions must score for the demo to count as a success.
MIN_RATIO = 2.0
SHUFFLE = "--data.init_args.shuffle_region_features=true"
SHOWN = ("CIDEr", "Bleu_4", "METEOR", "ROUGE_L")
EXAMPLES = 3


def caption_and_score(run_dir: Path, config: Path, name: str, overrides: Sequence[str]) -> dict[str, float]:
    """Captions the test images with the finetuned model and scores them; returns `vlp eval caption`'s json."""
    root = run_dir / "finetune" / "captioning"
    results, scores = root / f"{name}_results.json", root / f"{name}_scores.json"
    checkpoint = root / "checkpoints" / "last.ckpt"
    run_command(["vlp", "predict", "--config", str(config), f"--ckpt_path={checkpoint}", *overrides])
    # The model's arguments come back from the checkpoint, its results path too: move the file it wrote.
    (root / "caption_results.json").replace(results)
    annotations = run_dir / "world" / "annotations" / "captions_test.json"
    command = ["vlp", "eval", "caption", f"--annotations={annotations}", f"--results={results}", "--no-spice"]
    run_command([*command, f"--output={scores}"])
    return json.loads(scores.read_text())


def examples(run_dir: Path, count: int = EXAMPLES) -> list[str]:
    """A few test images' real captions next to their first reference."""
    root = run_dir / "finetune" / "captioning"
    captions = json.loads((root / "real_results.json").read_text())[:count]
    annotations = json.loads((run_dir / "world" / "annotations" / "captions_test.json").read_text())["annotations"]
    first = {}
    for entry in annotations:
        first.setdefault(entry["image_id"], entry["caption"])
    return [f"  image {c['image_id']}: {c['caption']!r}  (a reference: {first[c['image_id']]!r})" for c in captions]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m finetune.captioning.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"), help="the demo's folder (VLP_DEMO_DIR)")
    parser.add_argument("--config", type=Path, default=DEMO_CONFIG, help="the finetuning config")
    parser.add_argument(
        "--require-ratio",
        action="store_true",
        help=f"exit with status 1 unless the real captions' CIDEr-D is at least {MIN_RATIO:.0f}x the control's",
    )
    parser.epilog = "Other arguments go to vlp fit and predict, e.g. --trainer.max_epochs=4 --seed_everything=1."
    args, overrides = parser.parse_known_args(argv)
    os.environ["VLP_DEMO_DIR"] = str(args.run_dir)
    # A checkpoint of an earlier run would make the new `last.ckpt` a `last-v1.ckpt`, and predict the old model.
    shutil.rmtree(args.run_dir / "finetune" / "captioning" / "checkpoints", ignore_errors=True)
    run_command(["vlp", "fit", "--config", str(args.config), *overrides])
    real = caption_and_score(args.run_dir, args.config, "real", overrides)
    shuffled = caption_and_score(args.run_dir, args.config, "shuffled", [*overrides, SHUFFLE])
    lines = [f"{'captions (test images)':<26}{'real':>8}{'shuffled':>10}"]
    lines += [f"{name:<26}{real[name]:>8.3f}{shuffled[name]:>10.3f}" for name in SHOWN]
    ratio = real["CIDEr"] / max(shuffled["CIDEr"], 1e-9)
    verdict = "the captions read the image" if ratio >= MIN_RATIO else f"below {MIN_RATIO:.0f}x"
    print("\n".join([*lines, f"CIDEr-D ratio {ratio:.2f}x: {verdict}", *examples(args.run_dir)]))
    StageSummary(
        stage="captioning",
        metric="CIDEr-D (test images, beam 5)",
        value=real["CIDEr"],
        controls={"regions shuffled at test": shuffled["CIDEr"]},
        required_margin=MIN_RATIO,
        ratio=True,
        details={name: real[name] for name in SHOWN[1:]},
    ).save(args.run_dir / "finetune" / "captioning")
    return 1 if args.require_ratio and ratio < MIN_RATIO else 0


if __name__ == "__main__":
    raise SystemExit(main())
