"""Training curves from the CSV logs Lightning writes (`<root>/lightning_logs/version_<n>/metrics.csv`)."""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from pathlib import Path

from matplotlib import pyplot as plt

from vlp.plots.attention import save_figure

Series = list[tuple[int, float]]


def latest_metrics_file(root: Path) -> Path | None:
    """The `metrics.csv` of the newest `lightning_logs/version_<n>` under a run folder, or None."""
    versions = []
    for folder in (root / "lightning_logs").glob("version_*"):
        match = re.fullmatch(r"version_(\d+)", folder.name)
        if match and (folder / "metrics.csv").is_file():
            versions.append((int(match.group(1)), folder / "metrics.csv"))
    return max(versions)[1] if versions else None


def read_metrics(path: Path) -> dict[str, Series]:
    """Each logged metric's (step, value) points, in file order; empty cells (metrics logged on other rows) skipped."""
    series: dict[str, Series] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            step = int(row.get("step") or 0)
            for name, cell in row.items():
                if name in ("step", "epoch") or not cell:
                    continue
                value = float(cell)
                if math.isfinite(value):
                    series.setdefault(name, []).append((step, value))
    return series


def curve_panels(series: dict[str, Series]) -> dict[str, dict[str, Series]]:
    """Groups metrics into one panel per quantity, train and val together: `train/mlm_loss` and `val/mlm_loss` share
    the panel `mlm_loss`. Per-step duplicates of epoch means (`*_step`, `*_epoch`) keep only the per-step points."""
    panels: dict[str, dict[str, Series]] = {}
    for name, points in series.items():
        if name.endswith("_epoch") or name.startswith("lr"):
            continue
        split, _, quantity = name.partition("/")
        if not quantity:
            split, quantity = "", name
        panels.setdefault(quantity.removesuffix("_step"), {})[split] = points
    return panels


def plot_curves(
    series: dict[str, Series], path: Path, title: str, only: Sequence[str] | None = None, columns: int = 3
) -> Path:
    """One small panel per quantity (train and val lines together), written as a PNG.

    Args:
        series: metrics as `read_metrics` returns them.
        path: the PNG to write.
        title: the figure's title.
        only: quantities to draw (default: all), in this order.
        columns: panels per row.
    """
    panels = curve_panels(series)
    names = [name for name in (only or sorted(panels)) if name in panels]
    if not names:
        raise ValueError(f"no metrics to draw for {title!r} (logged: {', '.join(sorted(series)) or 'none'})")
    rows = math.ceil(len(names) / columns)
    width = min(columns, len(names))
    figure, axes = plt.subplots(rows, width, figsize=(4.0 * width, 2.8 * rows), squeeze=False, constrained_layout=True)
    for index, name in enumerate(names):
        axis = axes[index // width][index % width]
        for split, points in sorted(panels[name].items()):
            steps, values = zip(*points, strict=True)
            axis.plot(steps, values, marker="o" if split == "val" else None, markersize=3, label=split or name)
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("step", fontsize=8)
        axis.tick_params(labelsize=7)
        axis.legend(fontsize=7)
    for index in range(len(names), rows * width):
        axes[index // width][index % width].axis("off")
    figure.suptitle(title, fontsize=10)
    return save_figure(figure, path)
