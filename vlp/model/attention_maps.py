"""Attention probabilities of one encoder layer, for drawing attention maps.

The encoder never materialises its attention: `scaled_dot_product_attention` fuses the softmax away. To draw it, a
hook on the chosen layer's attention catches that layer's input (the packed token states, their layout and the mask),
and the queries and keys are computed again from it with the layer's own projections.
"""

from __future__ import annotations

import math

import torch

from vlp.model.inputs import RegionInputs, TextInputs
from vlp.model.model import VLModel


@torch.no_grad()
def attention_probabilities(
    model: VLModel, text: TextInputs | None, regions: RegionInputs | None, layer: int = -1
) -> torch.Tensor:
    """Every head's attention probabilities in layer `layer` (negative counts from the last), in the padded layout.

    Args:
        model: the model, in eval mode for dropout-free maps.
        text: [B, T] texts (or None for an image-only pass).
        regions: [B, R] regions (or None for a text-only pass).
        layer: index into the encoder's layers.

    Returns:
        Float[B, heads, T + R, T + R]: row q holds how token q (texts first, then regions, as `VLModel.forward` lays
        them out) attends each key; each real query's row sums to 1, rows and columns of padding are zero.
    """
    layers = model.encoder.layers
    if not -len(layers) <= layer < len(layers):
        raise ValueError(f"layer {layer} is out of range: the model has {len(layers)} layers")
    attention = layers[layer].attention
    caught: dict[str, object] = {}

    def catch(_module: torch.nn.Module, args: tuple) -> None:
        caught["hidden"], caught["layout"], caught["mask"] = args[:3]

    handle = attention.register_forward_pre_hook(catch)
    try:
        model(text, regions)
    finally:
        handle.remove()
    hidden, layout, mask = caught["hidden"], caught["layout"], caught["mask"]
    query, key = (attention._heads(layout.to_slots(proj(hidden))) for proj in (attention.query, attention.key))
    scores = query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1])  # [B, heads, L', L']
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    slots = scores.float().softmax(dim=-1)
    # Slots hold each example's real tokens first; put every (query, key) pair back at its padded positions.
    batch, heads, length = slots.shape[0], slots.shape[1], layout.full_length
    padded = slots.new_zeros(batch, heads, length, length)
    real = layout.slot_valid
    for row in range(batch):
        positions = layout.slot_position[row, real[row]]
        count = positions.numel()
        padded[row][:, positions[:, None], positions[None, :]] = slots[row, :, :count, :count]
    return padded
