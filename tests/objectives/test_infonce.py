"""In-batch InfoNCE: loss, gradients and accuracy against a textbook reference; the learned temperature."""

from __future__ import annotations

import math

import pytest
import torch

from vlp.objectives.infonce import LogitScale, info_nce_loss


def reference_info_nce(texts: torch.Tensor, images: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """CLIP's pseudocode: normalise, scaled cosine matrix, mean of the row-wise and column-wise cross-entropies, each
    written out as -log(exp(positive) / sum(exp(row)))."""
    texts = texts / texts.norm(dim=1, keepdim=True)
    images = images / images.norm(dim=1, keepdim=True)
    logits = log_scale.exp() * texts @ images.t()
    size = logits.shape[0]
    text_to_image = sum(-torch.log(logits[i, i].exp() / logits[i].exp().sum()) for i in range(size)) / size
    image_to_text = sum(-torch.log(logits[i, i].exp() / logits[:, i].exp().sum()) for i in range(size)) / size
    return (text_to_image + image_to_text) / 2


def _inputs(seed: int, batch: int = 6, dim: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    texts = torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    images = texts + 0.8 * torch.randn(batch, dim, generator=generator, dtype=torch.float64)
    return texts.requires_grad_(), images.requires_grad_()


def test_loss_and_gradients_match_the_reference() -> None:
    texts, images = _inputs(0)
    scale = LogitScale()
    out = info_nce_loss(texts, images, scale())
    out.loss.backward()
    ours = (texts.grad.clone(), images.grad.clone(), scale.value.grad.clone())

    ref_texts, ref_images = (t.detach().clone().requires_grad_() for t in (texts, images))
    ref_scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    expected = reference_info_nce(ref_texts, ref_images, ref_scale)
    expected.backward()
    assert out.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    for got, want in zip(ours, (ref_texts.grad, ref_images.grad, ref_scale.grad), strict=True):
        torch.testing.assert_close(got.double(), want.double(), rtol=1e-4, atol=1e-6)
    assert out.count == 6


def test_accuracy_is_text_to_image_top1() -> None:
    texts = torch.eye(4)
    images = torch.eye(4)[[0, 1, 3, 2]]  # texts 2 and 3 retrieve each other's image
    out = info_nce_loss(texts, images, torch.tensor(0.0))
    assert out.accuracy.item() == pytest.approx(0.5)


def test_gathering_is_a_no_op_in_one_process() -> None:
    texts, images = _inputs(1)
    gathered = info_nce_loss(texts, images, torch.tensor(2.0), gather=True)
    local = info_nce_loss(texts, images, torch.tensor(2.0), gather=False)
    assert gathered.loss.item() == local.loss.item()


def test_logit_scale_starts_at_one_over_0_07_and_is_capped() -> None:
    scale = LogitScale()
    assert scale().exp().item() == pytest.approx(1 / 0.07)
    with torch.no_grad():
        scale.value.fill_(10.0)
    assert scale().exp().item() == pytest.approx(100.0)
    texts, images = _inputs(2)
    info_nce_loss(texts, images, scale()).loss.backward()
    assert scale.value.grad.item() == 0.0  # at the cap the temperature stops moving


def test_the_loss_caps_a_raw_log_scale_too() -> None:
    texts, images = _inputs(3)
    capped = info_nce_loss(texts, images, torch.tensor(50.0), max_logit_scale=20.0)
    expected = reference_info_nce(texts, images, torch.tensor(math.log(20.0), dtype=torch.float64))
    assert capped.loss.item() == pytest.approx(expected.item(), rel=1e-5)
