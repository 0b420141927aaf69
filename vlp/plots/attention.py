"""The cross-modal attention of one example drawn as heat maps (word-to-region and region-to-word), beside the image
with its boxes shaded by how much the words attend them (UNITER's attention heat maps, ROSITA's Figure 4)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle


@dataclass(frozen=True)
class CrossAttention:
    """One example's attention between its text tokens and its regions, for one head or averaged over heads.

    Attributes:
        text_to_region: [T', R] attention probability of each text token (row) on each region (column).
        region_to_text: [R, T'] attention probability of each region on each text token.
        tokens: the T' text tokens (word pieces of the caption, then of the tags; special tokens left out).
        caption_length: how many of `tokens` are the caption's (the rest are tags).
        regions: the R region labels ("3 green star").
        title: what was drawn (layer, head).
    """

    text_to_region: np.ndarray
    region_to_text: np.ndarray
    tokens: list[str]
    caption_length: int
    regions: list[str]
    title: str

    def region_weights(self) -> np.ndarray:
        """Float[R] the attention the caption's tokens pay each region, averaged over those tokens."""
        words = self.text_to_region[: self.caption_length] if self.caption_length else self.text_to_region
        return words.mean(axis=0)


def _heat_map(axes: plt.Axes, values: np.ndarray, rows: list[str], columns: list[str], title: str) -> None:
    image = axes.imshow(values, cmap="viridis", aspect="auto", vmin=0.0)
    axes.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=7)
    axes.set_yticks(range(len(rows)), rows, fontsize=7)
    axes.set_title(title, fontsize=9)
    axes.figure.colorbar(image, ax=axes, fraction=0.046, pad=0.02)


def _image_panel(axes: plt.Axes, pixels: np.ndarray, boxes: np.ndarray, labels: list[str], weights: np.ndarray) -> None:
    """The image with each box outlined, its opacity and width rising with the attention the caption pays it."""
    axes.imshow(pixels)
    strongest = float(weights.max()) if weights.size and weights.max() > 0 else 1.0
    colours = plt.get_cmap("autumn_r")
    for box, label, weight in zip(boxes, labels, weights, strict=True):
        share = float(weight) / strongest
        x1, y1, x2, y2 = (float(v) for v in box)
        axes.add_patch(
            Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colours(share), linewidth=1 + 3 * share)
        )
        axes.text(
            x1,
            y1,
            f"{label} {weight:.2f}",
            fontsize=6,
            color="black",
            va="bottom",
            bbox={"facecolor": colours(share), "alpha": 0.8, "pad": 1, "linewidth": 0},
        )
    axes.set_title("regions: attention from the caption's words", fontsize=9)
    axes.axis("off")


def attention_figure(
    attention: CrossAttention, pixels: np.ndarray | None = None, boxes: np.ndarray | None = None
) -> Figure:
    """Two heat maps (text -> regions, regions -> text) and, given the image, its boxes shaded by attention.

    Args:
        attention: what to draw.
        pixels: [h, w, 3] uint8 image, or None.
        boxes: [R, 4] pixel boxes x1, y1, x2, y2 in `pixels`' scale (with `pixels`).
    """
    panels = 3 if pixels is not None else 2
    height = max(3.5, 0.22 * max(len(attention.tokens), len(attention.regions)) + 1.5)
    figure, axes = plt.subplots(1, panels, figsize=(5.2 * panels, height), constrained_layout=True)
    _heat_map(axes[0], attention.text_to_region, attention.tokens, attention.regions, "word -> region")
    _heat_map(axes[1], attention.region_to_text, attention.regions, attention.tokens, "region -> word")
    if attention.caption_length < len(attention.tokens):  # a line between the caption's tokens and the tags
        axes[0].axhline(attention.caption_length - 0.5, color="white", linewidth=1)
        axes[1].axvline(attention.caption_length - 0.5, color="white", linewidth=1)
    if pixels is not None:
        assert boxes is not None
        _image_panel(axes[2], pixels, boxes, attention.regions, attention.region_weights())
    figure.suptitle(attention.title, fontsize=10)
    return figure


def save_figure(figure: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Writes `figure` as a PNG (creating the folder) and closes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return path
