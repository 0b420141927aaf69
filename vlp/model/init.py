"""BERT's weight initialisation, shared by the model and its heads."""

from __future__ import annotations

import torch
from torch import nn


def init_weights(module: nn.Module, std: float) -> None:
    """Initialises `module` and its children in place the way BERT does.

    Linear and Embedding weights are drawn from N(0, std), biases and an Embedding's padding row are zero, LayerNorms
    are the identity. Other parameters are left to their owners.
    """
    for child in module.modules():
        if isinstance(child, nn.Linear):
            nn.init.normal_(child.weight, std=std)
            if child.bias is not None:
                nn.init.zeros_(child.bias)
        elif isinstance(child, nn.Embedding):
            nn.init.normal_(child.weight, std=std)
            if child.padding_idx is not None:
                nn.init.zeros_(child.weight[child.padding_idx])
        elif isinstance(child, nn.LayerNorm):
            nn.init.ones_(child.weight)
            nn.init.zeros_(child.bias)


# Trockman & Kolter (2023), "Mimetic Initialization of Self-Attention Layers": query-key product ~ 0.7 Z + 0.7 I and
# value-output product ~ 0.4 Z - 0.4 I with Z ~ N(0, 1/H) entries, the structure that pretrained attention layers show.
MIMETIC_QUERY_KEY = (0.7, 0.7)
MIMETIC_VALUE_OUTPUT = (0.4, -0.4)


def _factor_pair(hidden: int, noise: float, identity: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Two [H, H] matrices A, B with A^T B = noise * Z + identity * I (Z ~ N(0, 1/H)), split evenly by SVD."""
    target = noise * torch.randn(hidden, hidden) / hidden**0.5 + identity * torch.eye(hidden)
    left, singular, right_t = torch.linalg.svd(target)
    root = singular.sqrt()
    return root[:, None] * left.t(), root[:, None] * right_t


@torch.no_grad()
def mimetic_init(query: nn.Linear, key: nn.Linear, value: nn.Linear, out: nn.Linear) -> None:
    """Initialises one attention layer's projections mimetically (weights only; biases stay as they are).

    With Linear weights W ([out, in], y = x W^T), head h scores x W_Qh^T W_Kh x'^T, and these [H, H] products sum
    over the heads to W_Q^T W_K. Making that sum ~ I makes every token attend to tokens like itself from the first
    step. That is what matching a caption word to its object tag needs, and what a randomly initialised BERT otherwise
    takes thousands of steps to find (it sits at chance on a polluted-tag contrastive task meanwhile).
    """
    hidden = query.weight.shape[1]
    q, k = _factor_pair(hidden, *MIMETIC_QUERY_KEY)
    query.weight.copy_(q)
    key.weight.copy_(k)
    v, o_t = _factor_pair(hidden, *MIMETIC_VALUE_OUTPUT)
    value.weight.copy_(v)
    out.weight.copy_(o_t.t())
