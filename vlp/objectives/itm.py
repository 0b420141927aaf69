"""Image-text matching (UNITER ITM): is this image (regions and tags) the one the text describes?

Labels: 1 matched, 0 not (UNITER's convention; Oscar's contrastive head uses the opposite, see `oscar_contrastive`).
Negatives swap the image within the batch: uniformly over the other images, or, given a text-to-image similarity
matrix, in proportion to the softmax of the similarities over the other images (ALBEF's hard negatives), so that
images the model already confuses with the right one are shown more often. Rows that hold the text's own image (another
caption of it) can be excluded, so that a "negative" is never in fact a match.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vlp.model.config import VLConfig
from vlp.model.heads import ClassificationHead
from vlp.objectives.base import HeadSettings, Objective
from vlp.objectives.draws import other_index, softmax_draw, uniform
from vlp.objectives.output import ObjectiveOutput, classification_output


def sample_itm_pairs(
    batch_size: int,
    generator: torch.Generator | None = None,
    negative_probability: float = 0.5,
    similarity: Tensor | None = None,
    same_image: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Decides which texts keep their image and which image the others get.

    Args:
        batch_size: B.
        generator: source of randomness.
        negative_probability: chance that a text is paired with another image.
        similarity: optional [B, B] text-to-image scores, see `pair_images`.
        same_image: optional Bool[B, B], True where two rows hold the same image; see `pair_images`.

    Returns:
        image_index: Long[B], text i is paired with image `image_index[i]`.
        labels: Long[B], 1 where text i kept its own image, 0 otherwise.
        Both on `similarity`'s device (CPU without it). With B = 1 there is no other image and every pair stays matched.
    """
    for name, matrix in (("similarity", similarity), ("same_image", same_image)):
        if matrix is not None and matrix.shape != (batch_size, batch_size):
            raise ValueError(f"{name} must have shape ({batch_size}, {batch_size}), got {tuple(matrix.shape)}")
    device = similarity.device if similarity is not None else torch.device("cpu")
    if batch_size < 2:
        own = torch.arange(batch_size, device=device)
        return own, torch.ones_like(own)
    negative = uniform((batch_size,), generator, device) < negative_probability
    return pair_images(negative, generator, similarity, same_image)


def pair_images(
    negative: Tensor,
    generator: torch.Generator | None = None,
    similarity: Tensor | None = None,
    same_image: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Pairs the texts marked `negative` with another in-batch image and the others with their own.

    Without `similarity` and `same_image` the other image is uniform over the other rows; otherwise it is drawn in
    proportion to the softmax of `similarity` (zeros when absent: uniform) over the rows that are neither the text's
    own row nor, per `same_image`, rows holding its image (another caption of it would make a negative that is true).

    Args:
        negative: Bool[B], the texts to pair with another image.
        generator: source of randomness.
        similarity: optional [B, B] text-to-image scores, `similarity[i, j]` for text i and image j (e.g. the scaled
            InfoNCE logits; the caller picks the temperature). Read without gradient; excluded entries are ignored.
        same_image: optional Bool[B, B], True where rows i and j hold the same image.

    Returns:
        image_index: Long[B] on `negative`'s device, text i is paired with image `image_index[i]`.
        labels: Long[B], 1 where text i kept its own image, 0 otherwise. A text marked negative whose every other row
            is excluded keeps its own image (label 1).
    """
    batch_size, device = negative.shape[0], negative.device
    own = torch.arange(batch_size, device=device)
    if similarity is None and same_image is None and batch_size > 1:
        # Nothing to exclude but the own row: `other_index` draws uniformly without a softmax.
        image_index = torch.where(negative, other_index(own, batch_size, generator), own)
        return image_index, (~negative).long()
    excluded = torch.eye(batch_size, dtype=torch.bool, device=device)
    if same_image is not None:
        excluded |= same_image.to(device)
    others, has_other = softmax_draw(similarity, excluded, generator)
    negative = negative & has_other
    return torch.where(negative, others, own), (~negative).long()


def itm_loss(logits: Tensor, labels: Tensor) -> ObjectiveOutput:
    """Cross-entropy of the matching head.

    Args:
        logits: [B, 2] from the head on the pooled output.
        labels: Long[B], 1 matched, 0 not.

    Returns:
        Mean cross-entropy, accuracy, B.
    """
    return classification_output(logits, labels)


class ImageTextMatching(Objective):
    """UNITER's image-text matching on its own view of the batch (`vlp.pretrain.compute` runs its pass)."""

    name = "itm"
    description = "image-text matching (UNITER ITM)"
    reads_masked_input = False

    def heads(self, config: VLConfig, settings: HeadSettings) -> dict[str, nn.Module]:
        return {"itm": ClassificationHead(config.hidden_size, 2, initializer_range=config.initializer_range)}
