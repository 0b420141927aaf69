"""The VQA loss: binary cross-entropy against soft targets, one binary decision per candidate answer."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def vqa_bce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BCE-with-logits over every answer, scaled by the number of answers (Oscar's `instance_bce_with_logits`).

    The mean over all B x C entries times C is the sum over answers averaged over questions, so the loss does not
    shrink as the answer vocabulary grows (and learning rates carry over between vocabularies).

    Args:
        logits: [B, C] answer logits.
        targets: [B, C] soft target scores in [0, 1].

    Returns:
        The scalar loss.
    """
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="mean") * targets.shape[1]
