"""What every objective returns, and the cross-entropy-with-accuracy that the classification objectives share."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -100
"""Label of positions that take no loss (PyTorch's cross-entropy default)."""


@dataclass
class ObjectiveOutput:
    """A loss and what to report beside it.

    Attributes:
        loss: scalar, the mean over `count` examples or positions; a zero that stays in the graph when `count` is 0,
            so that DDP still sees every parameter take part.
        accuracy: scalar fraction of correct predictions, or None for regression or when `count` is 0.
        count: how many examples or positions the loss averaged over (weights for averaging across batches).
    """

    loss: Tensor
    accuracy: Tensor | None
    count: int


def classification_output(logits: Tensor, labels: Tensor) -> ObjectiveOutput:
    """Mean cross-entropy and top-1 accuracy over the labelled rows.

    Args:
        logits: [N, C].
        labels: Long[N], class indices; `IGNORE_INDEX` rows take no loss and do not count.

    Returns:
        The loss, the accuracy and the number of labelled rows.
    """
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"expected logits [N, C] and labels [N], got {tuple(logits.shape)} and {tuple(labels.shape)}")
    labelled = labels != IGNORE_INDEX
    count = int(labelled.sum())
    if count == 0:
        return empty_output(logits)
    logits, labels = logits[labelled], labels[labelled]
    loss = F.cross_entropy(logits.float(), labels)
    accuracy = (logits.argmax(dim=-1) == labels).float().mean().detach()
    return ObjectiveOutput(loss=loss, accuracy=accuracy, count=count)


def empty_output(reference: Tensor) -> ObjectiveOutput:
    """The zero loss of an objective with nothing to score, kept in `reference`'s graph."""
    return ObjectiveOutput(loss=reference.sum() * 0.0, accuracy=None, count=0)
