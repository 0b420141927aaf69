"""BERT encoder layers (post-LayerNorm), run on packed real tokens."""

from __future__ import annotations

import torch
from torch import nn

from vlp.model.activations import activation
from vlp.model.attention import SelfAttention
from vlp.model.config import VLConfig
from vlp.model.packing import TokenLayout


class EncoderLayer(nn.Module):
    """One BERT layer: self-attention, residual, LayerNorm; feed-forward, residual, LayerNorm."""

    def __init__(self, config: VLConfig) -> None:
        super().__init__()
        self.attention = SelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.ffn_in = nn.Linear(config.hidden_size, config.intermediate_size)
        self.ffn_out = nn.Linear(config.intermediate_size, config.hidden_size)
        self.ffn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.act = activation(config.hidden_act)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self,
        hidden: torch.Tensor,
        layout: TokenLayout,
        mask: torch.Tensor | None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Args and returns as `SelfAttention.forward`, with `hidden` and the output the [N, H] layer states."""
        attended, present = self.attention(hidden, layout, mask, past)
        hidden = self.attention_norm(self.dropout(attended) + hidden)
        hidden = self.ffn_norm(self.dropout(self.ffn_out(self.act(self.ffn_in(hidden)))) + hidden)
        return hidden, present


class Encoder(nn.Module):
    """A stack of `EncoderLayer`s."""

    def __init__(self, config: VLConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_layers))

    def forward(
        self,
        hidden: torch.Tensor,
        layout: TokenLayout,
        mask: torch.Tensor | None,
        past: tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]] | None = None,
        use_cache: bool = False,
    ) -> tuple[torch.Tensor, tuple[list[torch.Tensor], list[torch.Tensor]] | None]:
        """Runs every layer.

        Args:
            hidden: [N, H] packed embeddings.
            layout: Where the packed tokens sit in their examples.
            mask: Output of `vlp.model.attention.attention_mask`, shared by all layers.
            past: Cached (keys per layer, values per layer), each [B, heads, P, head_dim].
            use_cache: Whether to return the keys and values.

        Returns:
            The [N, H] final states and, when `use_cache`, per layer the keys and values including the cached ones.
        """
        keys, values = [], []
        for index, layer in enumerate(self.layers):
            layer_past = None if past is None else (past[0][index], past[1][index])
            hidden, (key, value) = layer(hidden, layout, mask, layer_past)
            if use_cache:  # otherwise let them go: holding every layer's keys would raise inference peak memory
                keys.append(key)
                values.append(value)
        return hidden, (keys, values) if use_cache else None
