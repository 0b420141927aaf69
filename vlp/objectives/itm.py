"""Image-text matching (UNITER ITM): is this image (regions and tags) the one the text describes?

Labels: 1 matched, 0 not (UNITER's convention; Oscar's contrastive head uses the opposite, see `oscar_contrastive`).
Negatives swap the image within the batch: uniformly over the other images, or, given a text-to-image similarity
matrix, in proportion to the softmax of the similarities over the other images (ALBEF's hard negatives), so that
images the model already confuses with the right one are shown more often.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vlp.objectives.draws import other_index, uniform
from vlp.objectives.output import ObjectiveOutput, classification_output


def sample_itm_pairs(
    batch_size: int,
    generator: torch.Generator | None = None,
    negative_probability: float = 0.5,
    similarity: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Decides which texts keep their image and which image the others get.

    Args:
        batch_size: B.
        generator: source of randomness.
        negative_probability: chance that a text is paired with another image.
        similarity: optional [B, B] text-to-image scores, `similarity[i, j]` for text i and image j (e.g. the scaled
            InfoNCE logits; the caller picks the temperature). Read without gradient; the diagonal is ignored.

    Returns:
        image_index: Long[B], text i is paired with image `image_index[i]`.
        labels: Long[B], 1 where `image_index[i] == i`, 0 otherwise.
        Both on `similarity`'s device (CPU without it). With B = 1 there is no other image and every pair stays matched.
    """
    if similarity is not None and similarity.shape != (batch_size, batch_size):
        raise ValueError(f"similarity must have shape ({batch_size}, {batch_size}), got {tuple(similarity.shape)}")
    device = similarity.device if similarity is not None else torch.device("cpu")
    own = torch.arange(batch_size, device=device)
    if batch_size < 2:
        return own, torch.ones_like(own)
    negative = uniform((batch_size,), generator, device) < negative_probability
    if similarity is None:
        others = other_index(own, batch_size, generator)
    else:
        diagonal = torch.eye(batch_size, dtype=torch.bool, device=device)
        probabilities = similarity.detach().float().masked_fill(diagonal, float("-inf")).softmax(dim=1)
        draw_device = generator.device if generator is not None else device
        others = torch.multinomial(probabilities.to(draw_device), 1, generator=generator).squeeze(1).to(device)
    image_index = torch.where(negative, others, own)
    return image_index, (~negative).long()


def itm_loss(logits: Tensor, labels: Tensor) -> ObjectiveOutput:
    """Cross-entropy of the matching head.

    Args:
        logits: [B, 2] from the head on the pooled output.
        labels: Long[B], 1 matched, 0 not.

    Returns:
        Mean cross-entropy, accuracy, B.
    """
    return classification_output(logits, labels)
