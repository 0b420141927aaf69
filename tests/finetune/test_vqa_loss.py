"""The VQA loss against binary cross-entropy written out by hand."""

from __future__ import annotations

import torch
from torch.testing import assert_close

from finetune.vqa import vqa_bce_loss


def test_loss_is_the_per_question_sum_of_binary_cross_entropies() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 7, generator=generator, dtype=torch.float64)
    targets = torch.zeros(4, 7, dtype=torch.float64)
    targets[0, 2], targets[1, [0, 3]], targets[3, 6] = 1.0, torch.tensor([0.3, 0.9], dtype=torch.float64), 0.6
    probabilities = 1 / (1 + torch.exp(-logits))
    per_entry = -(targets * torch.log(probabilities) + (1 - targets) * torch.log(1 - probabilities))
    # Summed over the 7 answers, averaged over the 4 questions: Oscar's mean over all entries times 7.
    assert_close(vqa_bce_loss(logits, targets), per_entry.sum(dim=1).mean())


def test_loss_gradient_is_the_score_error_per_question() -> None:
    logits = torch.zeros(2, 3, requires_grad=True)
    targets = torch.tensor([[1.0, 0.0, 0.3], [0.0, 0.0, 0.0]])
    vqa_bce_loss(logits, targets).backward()
    # d/dx of BCE is sigmoid(x) - t, here 0.5 - t, divided by the 2 questions.
    assert_close(logits.grad, (0.5 - targets) / 2)
