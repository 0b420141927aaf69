"""Oscar's contrastive loss (binary) and Oscar+'s 3-way variant (VinVL): was the pair polluted, and how?

Labels follow the released Oscar/VinVL code and checkpoints (`cls.seq_relationship`), not the paper's notation (which
writes y = 1 for the original pair):

- 0: matched, nothing replaced;
- 1: the tags were replaced by those of another image (for VQA-style data: the answer was replaced);
- 2: the caption was replaced by another example's caption (3-way only).

The caller replaces the parts: `sample_pollution` decides which, `pick_replacements` says from which example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from vlp.model.config import VLConfig
from vlp.model.heads import ClassificationHead
from vlp.objectives.base import HeadSettings, MaskedPass, Objective
from vlp.objectives.draws import other_index, uniform
from vlp.objectives.output import ObjectiveOutput, classification_output

if TYPE_CHECKING:
    from vlp.data.batch import PretrainBatch
    from vlp.model.model import VLModel

MATCHED, TAGS_REPLACED, CAPTION_REPLACED = 0, 1, 2


def sample_pollution(
    batch_size: int,
    num_classes: int,
    generator: torch.Generator | None = None,
    pollute_probability: float = 0.5,
    caption_share: float = 0.25,
) -> Tensor:
    """Draws what to pollute in each example.

    Each example is polluted with `pollute_probability`. With 2 classes a polluted example has its tags replaced;
    with 3 classes its caption is replaced with probability `caption_share` and its tags (or answer) otherwise, which
    gives Oscar+'s 50% matched, 37.5% tags, 12.5% caption at the defaults.

    Args:
        batch_size: B.
        num_classes: 2 (Oscar) or 3 (Oscar+).
        generator: source of randomness.
        pollute_probability: chance that an example is polluted at all.
        caption_share: among polluted examples, the chance that the caption is the replaced part (3-way only).

    Returns:
        Long[B] labels: `MATCHED` (0), `TAGS_REPLACED` (1) or `CAPTION_REPLACED` (2).
    """
    if num_classes not in (2, 3):
        raise ValueError(f"num_classes must be 2 or 3, got {num_classes}")
    draws = uniform((2, batch_size), generator)
    polluted = draws[0] < pollute_probability
    labels = polluted.long() * TAGS_REPLACED
    if num_classes == 3:
        labels[polluted & (draws[1] < caption_share)] = CAPTION_REPLACED
    return labels


def pick_replacements(
    batch_size: int, dataset_size: int, own_index: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Picks, for every example, another example of the dataset to take the replaced part from.

    Args:
        batch_size: B.
        dataset_size: number of examples to choose from, at least 2.
        own_index: Long[B], each example's own index in the dataset.
        generator: source of randomness.

    Returns:
        Long[B], uniform over the dataset without the example itself.
    """
    if own_index.shape != (batch_size,):
        raise ValueError(f"own_index must have shape ({batch_size},), got {tuple(own_index.shape)}")
    return other_index(own_index, dataset_size, generator)


def contrastive_loss(logits: Tensor, labels: Tensor) -> ObjectiveOutput:
    """Cross-entropy of the contrastive head.

    Args:
        logits: [B, C] from the head on the pooled `[CLS]`, C = 2 or 3.
        labels: Long[B] from `sample_pollution`.

    Returns:
        Mean cross-entropy, accuracy, B.
    """
    return classification_output(logits, labels)


class OscarContrastive(Objective):
    """Oscar's polluted-tag contrastive loss (2-way) or Oscar+'s 3-way variant, on the pooled `[CLS]`."""

    name = "contrastive"
    description = "Oscar's 2-way or Oscar+'s 3-way contrastive loss on the pooled [CLS]"

    def heads(self, config: VLConfig, settings: HeadSettings) -> dict[str, nn.Module]:
        # Named `contrastive`, BERT's `cls.seq_relationship` in Oscar checkpoints.
        head = ClassificationHead(
            config.hidden_size, settings.contrastive_classes, initializer_range=config.initializer_range
        )
        return {"contrastive": head}

    def masked_loss(
        self, model: VLModel, heads: nn.ModuleDict, batch: PretrainBatch, output: MaskedPass
    ) -> ObjectiveOutput:
        if batch.contrastive_labels is None:
            raise ValueError("the contrastive objective needs polluted batches (corruption.contrastive_classes)")
        return contrastive_loss(heads["contrastive"](output.pooled), batch.contrastive_labels)
