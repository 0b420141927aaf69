"""The activation functions a BERT-family config may name (`hidden_act`), by the names `transformers` uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,  # the exact erf form, as in BERT, Oscar and UNITER
    "gelu_new": partial(F.gelu, approximate="tanh"),
    "gelu_pytorch_tanh": partial(F.gelu, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Returns the activation function called `name` in a BERT config.

    Raises:
        ValueError: `name` is not one of `ACTIVATIONS`.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unsupported activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]
