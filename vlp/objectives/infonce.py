"""In-batch contrastive loss (CLIP-style InfoNCE) over text-only and image-only embeddings, with a learned temperature.

Each process scores its own texts against every image of the global batch and its own images against every text,
with embeddings gathered from all processes with gradients (`vlp.distributed.gather_with_grad`). The loss is the mean
over this process's rows; averaged over processes, as DDP averages gradients, it is the loss of one process holding
the global batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vlp import distributed
from vlp.model.config import VLConfig
from vlp.model.heads import EmbeddingProjection
from vlp.objectives.base import HeadSettings, Objective
from vlp.objectives.output import ObjectiveOutput

INITIAL_TEMPERATURE = 0.07
MAX_LOGIT_SCALE = 100.0


class LogitScale(nn.Module):
    """The learned inverse temperature, stored in log space as CLIP does (init log(1 / 0.07)).

    `forward` returns the log-space value clamped so that its exponential stays at most `max_logit_scale`; the
    clamp in the forward pass (rather than on the parameter after each step) keeps optimizers and checkpoints unaware
    of it, and stops the gradient from pushing the scale further once it is at the cap.
    """

    def __init__(self, temperature: float = INITIAL_TEMPERATURE, max_logit_scale: float = MAX_LOGIT_SCALE) -> None:
        super().__init__()
        self.max_logit_scale = max_logit_scale
        self.value = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def forward(self) -> Tensor:
        """Scalar log logit scale, at most log(max_logit_scale)."""
        return clamp_logit_scale(self.value, self.max_logit_scale)


def clamp_logit_scale(logit_scale: Tensor, max_logit_scale: float) -> Tensor:
    """`logit_scale` (log space) clamped to at most `log(max_logit_scale)`."""
    return logit_scale.clamp(max=math.log(max_logit_scale))


def info_nce_loss(
    text_embeddings: Tensor,
    image_embeddings: Tensor,
    logit_scale: Tensor,
    max_logit_scale: float = MAX_LOGIT_SCALE,
    gather: bool = True,
    keys: Tensor | None = None,
) -> ObjectiveOutput:
    """Symmetric InfoNCE over the global similarity matrix, with this process's rows as queries.

    Text i of process r is the positive of image i of process r, i.e. of global column `r * B + i`; every other image
    (text) of the global batch is a negative.

    Args:
        text_embeddings: [B, E], this process's texts (normalised here; pre-normalised input is fine).
        image_embeddings: [B, E], this process's images, row i paired with text i.
        logit_scale: scalar in log space (`LogitScale()` or a raw parameter), exponentiated after clamping.
        max_logit_scale: cap on the exponentiated scale.
        gather: whether to gather embeddings across processes (no effect when not initialised).
        keys: optional Long[B] image keys: a text's positives are then every image of its key in the global batch,
            the target spread evenly over them (ALBEF's retrieval finetuning, where a batch may hold two captions of
            one image); without keys only the text's own image is.

    Returns:
        loss: mean over this process's B rows of (text-to-image CE + image-to-text CE) / 2.
        accuracy: top-1 image retrieval of this process's texts (the positive image scores highest).
        count: B.
    """
    if text_embeddings.shape != image_embeddings.shape or text_embeddings.dim() != 2:
        raise ValueError(
            f"expected two [B, E] tensors of one shape, got {tuple(text_embeddings.shape)} "
            f"and {tuple(image_embeddings.shape)}"
        )
    batch = text_embeddings.shape[0]
    texts = F.normalize(text_embeddings.float(), dim=-1)
    images = F.normalize(image_embeddings.float(), dim=-1)
    all_texts, all_images, offset, all_keys = texts, images, 0, keys
    if gather and distributed.world_size() > 1:
        # One collective for both modalities.
        gathered = distributed.gather_with_grad(torch.cat([texts, images], dim=1))
        all_texts, all_images = gathered.split(texts.shape[1], dim=1)
        offset = distributed.rank() * batch
        if keys is not None:
            parts = [torch.empty_like(keys) for _ in range(distributed.world_size())]
            torch.distributed.all_gather(parts, keys.contiguous())
            all_keys = torch.cat(parts)
    scale = clamp_logit_scale(logit_scale, max_logit_scale).exp()
    text_to_image = scale * texts @ all_images.t()  # [B, world * B]
    image_to_text = scale * images @ all_texts.t()
    targets: Tensor = torch.arange(batch, device=texts.device) + offset
    if keys is not None and all_keys is not None:
        positives = (keys[:, None] == all_keys[None, :]).float()
        targets = positives / positives.sum(dim=1, keepdim=True)
    loss = (F.cross_entropy(text_to_image, targets) + F.cross_entropy(image_to_text, targets)) / 2
    best = text_to_image.argmax(dim=1)
    hit = best == targets if targets.dim() == 1 else targets.gather(1, best[:, None]).squeeze(1) > 0
    accuracy = hit.float().mean().detach()
    return ObjectiveOutput(loss=loss, accuracy=accuracy, count=batch)


class InfoNCE(Objective):
    """In-batch contrastive loss of text-only and image-only embeddings (`vlp.pretrain.compute` runs the passes)."""

    name = "infonce"
    description = "in-batch contrastive loss of text-only and image-only embeddings (CLIP-style)"
    reads_masked_input = False

    def heads(self, config: VLConfig, settings: HeadSettings) -> dict[str, nn.Module]:
        hidden, init = config.hidden_size, config.initializer_range
        return {
            "text_projection": EmbeddingProjection(hidden, settings.embed_dim, init),
            "image_projection": EmbeddingProjection(hidden, settings.embed_dim, init),
        }
