"""`vlp demo --full`: the science behind the default demo's numbers.

The default demo scores each finetuned model against controls at test time only. `--full` trains each task again at
three seeds with regions shuffled across images for fitting and testing (a model that never sees its image), and VQA
from the same architecture with no pretraining (does pretraining help here?). Each extra run is a folder under
`<run>/full/` whose `world`, `features` and `pretrain` link to the run's own, and runs the task's demo module with
its `--seed_everything`; a run that finished before is reused unless `--force`. Seed 0 of the pretrained models is
the default demo's own run.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from vlp.cli.commands import run_command
from vlp.report.markdown import format_number
from vlp.report.summary import NESTED_RUNS, SUMMARY_PATTERN, StageSummary

SEEDS = (0, 1, 2)
SHUFFLE = "--data.init_args.shuffle_region_features=true"
# task -> (demo module, its extra arguments, the folder of its summary under the run)
TASKS = {
    "vqa": ("finetune.vqa.demo", [], "finetune/vqa"),
    "captioning": ("finetune.captioning.demo", [], "finetune/captioning"),
    "retrieval": ("finetune.retrieval.demo", ["--modes=fast"], "finetune/retrieval"),
}
# variant -> the arguments that make it
VARIANTS = {
    "pretrained": [],
    "trained on shuffled regions": [SHUFFLE],
    "from scratch": ["--model.init_args.init_from=null"],
}
SCRATCH_TASKS = ("vqa",)
TEST_CONTROL = "regions shuffled at test"
LINKED = ("world", "features", "pretrain")


def variant_folder(run_dir: Path, task: str, variant: str, seed: int) -> Path:
    """Where one extra run lives; seed 0 of the pretrained variant is the default demo's run itself."""
    if variant == "pretrained" and seed == 0:
        return run_dir
    slug = variant.split()[0] if variant != "trained on shuffled regions" else "shuffled"
    return run_dir / NESTED_RUNS / f"{task}_{slug}_seed{seed}"


def run_variant(run_dir: Path, store: Path, task: str, variant: str, seed: int, force: bool) -> StageSummary:
    """Runs one task's demo as `variant` at `seed` (or reuses it); returns its summary."""
    module, extra, summary_folder = TASKS[task]
    folder = variant_folder(run_dir, task, variant, seed)
    summary = folder / summary_folder / SUMMARY_PATTERN.format(stage=task)
    if summary.is_file() and not (force and folder != run_dir):
        return StageSummary.load(summary)
    folder.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = folder / name
        if not link.exists():
            link.symlink_to((run_dir / name).resolve(), target_is_directory=True)
    print(f"\n== vlp demo --full: {task}, {variant}, seed {seed} ==", flush=True)
    command = [sys.executable, "-m", module, "--run-dir", str(folder), *extra, *VARIANTS[variant]]
    run_command(
        [*command, f"--seed_everything={seed}"], env={"VLP_DEMO_DIR": str(folder), "VLP_DEMO_STORE": str(store)}
    )
    return StageSummary.load(summary)


def full_table(results: dict[tuple[str, str], list[float]], metrics: dict[str, str]) -> list[str]:
    """Markdown: one row per task, one column per variant, each cell the seeds' numbers and their mean."""
    variants = [variant for variant in [*VARIANTS, TEST_CONTROL] if any(key[1] == variant for key in results)]
    lines = ["| task | metric | " + " | ".join(variants) + " |", "|---|---|" + "---|" * len(variants)]
    for task in TASKS:
        cells = []
        for variant in variants:
            values = results.get((task, variant))
            cells.append(
                " / ".join(format_number(value) for value in values)
                + f" (mean {format_number(statistics.mean(values))})"
                if values
                else ""
            )
        lines.append(f"| {task} | {metrics[task]} | " + " | ".join(cells) + " |")
    return lines


def run_full(run_dir: Path, store: Path, force: bool = False) -> list[str]:
    """Runs every variant at every seed; returns the report's section with their table."""
    results: dict[tuple[str, str], list[float]] = {}
    metrics = {}
    for task in TASKS:
        for variant in VARIANTS:
            if variant == "from scratch" and task not in SCRATCH_TASKS:
                continue
            for seed in SEEDS:
                summary = run_variant(run_dir, store, task, variant, seed, force)
                results.setdefault((task, variant), []).append(summary.value)
                metrics[task] = summary.metric
                if variant == "pretrained":
                    results.setdefault((task, TEST_CONTROL), []).append(summary.controls[TEST_CONTROL])
    seeds = ", ".join(str(seed) for seed in SEEDS)
    return [
        "## `--full`: trained controls and pretraining at three seeds",
        "",
        f"Each cell: seeds {seeds} and their mean. Trained on shuffled regions: fitted and tested with every image "
        "showing another image's regions and tags, so the model can learn only what the text alone gives. From "
        "scratch: the same architecture and recipe without the pretrained weights. Regions shuffled at test: each "
        "pretrained run's model shown another image's regions.",
        "",
        *full_table(results, metrics),
        "",
    ]
