"""BERT's weight initialisation, shared by the model and its heads."""

from __future__ import annotations

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
