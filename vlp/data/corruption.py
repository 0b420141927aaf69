"""What the collate corrupts in each batch, and how: the data side of the pretraining objectives."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Corruption:
    """The corruption a `PretrainCollate` applies; each pretraining objective needs its part switched on.

    Attributes:
        mask_probability: share of word and tag tokens masked for the masked token loss (0 switches it off).
        contrastive_classes: Oscar's contrastive pollution: 0 off, 2 Oscar (text b replaced), 3 Oscar+ (text b or the
            text replaced).
        pollute_probability: chance that an example is polluted.
        caption_share: 3-way only: among polluted examples, the chance that the text (caption or question) is the
            replaced part rather than text b.
        mask_loss_for_unmatched: whether polluted tags are masked and predicted too (Oscar's default, 1). Without it
            they are left unmasked, as Oscar's `mask_loss_for_unmatched=0`.
        matching: build the image-text matching view (UNITER ITM).
        negative_probability: chance that a text is paired with another example's image in that view.
        region_mask_probability: share of regions masked for masked region modelling (0 switches it off).
        conditional_masking: UNITER's conditional masking: each example masks its text or its regions, never both.
        structural_masking: ROSITA's structural knowledge masking of texts with a scene graph (gold, or parsed from
            the caption); the others, and pairs whose graph gives no anchor, fall back to random masking.
        anchor_probability: SKM: chance that a text object becomes an anchor.
        structural_alpha: SKM: the weight of intra-modal against cross-modal context.
        graph_iou_threshold: SKM: regions overlapping more than this are linked in the image graph.
        graph_similarity_threshold: SKM: a caption object is linked to a region whose tag is at least this similar.
    """

    mask_probability: float = 0.15
    contrastive_classes: int = 0
    pollute_probability: float = 0.5
    caption_share: float = 0.25
    mask_loss_for_unmatched: bool = True
    matching: bool = False
    negative_probability: float = 0.5
    region_mask_probability: float = 0.0
    conditional_masking: bool = False
    structural_masking: bool = False
    anchor_probability: float = 0.3
    structural_alpha: float = 0.5
    graph_iou_threshold: float = 0.2
    graph_similarity_threshold: float = 0.5

    def __post_init__(self) -> None:
        errors = []
        for name in ("mask_probability", "pollute_probability", "caption_share", "negative_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                errors.append(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        for name in ("region_mask_probability", "anchor_probability", "structural_alpha"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                errors.append(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.contrastive_classes not in (0, 2, 3):
            errors.append(f"contrastive_classes must be 0 (off), 2 or 3, got {self.contrastive_classes}")
        if self.conditional_masking and not (self.mask_probability and self.region_mask_probability):
            errors.append("conditional_masking needs both mask_probability and region_mask_probability")
        if errors:
            raise ValueError("invalid Corruption:\n  " + "\n  ".join(errors))
