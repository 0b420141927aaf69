"""Assembles the demo's `report.md` from what its stages left in the run folder: stage summaries, training logs,
result files; the pictures of regions and attention come from the user-facing commands `extract-features draw` and
`vlp attention`, echoed as they run."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from vlp.cli.commands import run_command
from vlp.report.curves import latest_metrics_file, plot_curves, read_metrics
from vlp.report.examples import ImageExamples, add_captions, add_retrieved, add_vqa
from vlp.report.markdown import Picture, StageRun, write_report
from vlp.report.summary import read_summaries

# How many test images the report shows.
SHOWN_IMAGES = 3
# The training runs drawn: (folder under the run, title, quantities in panel order, what to look for).
CURVES = (
    (
        "pretrain/oscar",
        "Pretraining (Oscar objectives + InfoNCE)",
        ("contrastive_acc", "mlm_acc", "infonce_acc", "contrastive_loss", "mlm_loss", "infonce_loss"),
        "Polluted-tag contrastive accuracy leaves chance (0.5) within the first epochs; masked-token accuracy rises "
        "throughout; InfoNCE accuracy is over a batch of 64 (chance 0.016).",
    ),
    ("finetune/vqa", "VQA finetuning", ("loss", "vqa_acc", "vqa_acc/yes/no", "vqa_acc/number", "vqa_acc/other"), ""),
    ("finetune/captioning", "Captioning finetuning", ("loss", "acc", "cider", "bleu4"), ""),
    ("finetune/retrieval", "Retrieval finetuning (matching + InfoNCE loss)", ("loss",), ""),
)


def machine() -> str:
    """The CPU and thread count, for the report's header: the times depend on them."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} logical CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads"


def draw_curves(run_dir: Path, out_dir: Path) -> list[Picture]:
    """One picture per training run that left a metrics log."""
    pictures = []
    for folder, title, quantities, caption in CURVES:
        log = latest_metrics_file(run_dir / folder)
        if log is None:
            continue
        path = plot_curves(read_metrics(log), out_dir / f"{folder.split('/')[-1]}_curves.png", title, quantities)
        pictures.append(Picture(path, title, caption))
    return pictures


def test_images(world_dir: Path, count: int = SHOWN_IMAGES) -> list[str]:
    """The first `count` test images of the world's captions file."""
    images = json.loads((world_dir / "annotations" / "captions_test.json").read_text(encoding="utf-8"))["images"]
    return [str(image["id"]) for image in images[:count]]


def collect_examples(run_dir: Path, image_ids: Sequence[str]) -> list[ImageExamples]:
    """What each finetuned model that has results says about the images."""
    examples = {image_id: ImageExamples(image_id) for image_id in image_ids}
    world, finetune = run_dir / "world", run_dir / "finetune"
    vqa = finetune / "vqa" / "real_results.json"
    if vqa.is_file():
        questions = world / "vqa" / "v2_OpenEnded_mscoco_test_questions.json"
        add_vqa(examples, questions, world / "vqa" / "v2_mscoco_test_annotations.json", vqa)
    captions = finetune / "captioning" / "real_results.json"
    if captions.is_file():
        add_captions(examples, world / "annotations" / "captions_test.json", captions)
    rankings = sorted((finetune / "retrieval").glob("*_real_rankings.json"))
    if rankings:
        # The last mode the demo ranked in (fast after exact), as its summary reports.
        chosen = next((path for path in rankings if path.name.startswith("fast")), rankings[-1])
        add_retrieved(examples, world / "annotations" / "dataset_coco.json", chosen)
    return list(examples.values())


def build_demo_report(run_dir: Path, store: Path, stages: Sequence[StageRun], appendix: Sequence[str] = ()) -> Path:
    """Draws the pictures and writes `run_dir/report.md`; returns its path."""
    out_dir = run_dir / "report"
    world = run_dir / "world"
    image_ids = test_images(world)
    run_command(
        [
            "extract-features",
            "draw",
            str(store),
            "--ids",
            *image_ids,
            "--images",
            str(world / "annotations" / "instances_test.json"),
            "--image-root",
            str(world / "images"),
            "--out",
            str(out_dir / "images"),
            "--min-side=384",
        ]
    )
    examples = collect_examples(run_dir, image_ids)
    attention = None
    model = run_dir / "pretrain" / "oscar" / "pretrained"
    if model.is_dir() and examples[0].references:
        caption = examples[0].references[0]
        path = out_dir / "attention.png"
        command = ["vlp", "attention", f"--model={model}", f"--store={store}", f"--image-id={image_ids[0]}"]
        command += [f"--text={caption}", f"--out={path}", f"--image-root={world / 'images'}", "--tag-attributes"]
        run_command(command)
        attention = Picture(
            path,
            "Attention of the pretrained model (last layer, heads averaged)",
            f'Test image {image_ids[0]} with its reference caption "{caption}": how much each word and tag attends '
            "each region, and each region each word; on the right, the regions shaded by the attention the caption's "
            "words pay them. Any model and text: `vlp attention --help`.",
        )
    header = [
        f"Run folder `{run_dir}`, written {time.strftime('%Y-%m-%d %H:%M')} on {machine()}.",
        "",
        "Each stage's headline number on held-out data against its controls: the same model shown another image's "
        "regions (shuffled at test), and for VQA the blind question-type prior. `vlp demo --full` adds models "
        "trained on shuffled regions at three seeds and VQA from scratch (docs/demo.md).",
    ]
    return write_report(
        run_dir / "report.md",
        stages,
        read_summaries(run_dir),
        draw_curves(run_dir, out_dir),
        examples,
        {image_id: out_dir / "images" / f"{image_id}.png" for image_id in image_ids},
        attention,
        header,
        appendix,
    )
