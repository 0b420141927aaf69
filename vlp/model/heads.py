"""Small heads that task modules compose on top of `VLModel`.

- masked-token prediction (MLM), tied to the word embeddings:
  `TiedPredictionHead(H, V)(states, model.word_embedding_weight)`;
- region feature regression (UNITER MRFR), tied to the region projection:
  `TiedPredictionHead(H, D)(states, model.region_feature_weight)`;
- Oscar's 2- or 3-way contrastive head, image-text matching, a linear classifier: `ClassificationHead(H, C)(pooled)`;
- region label classification (UNITER MRC): `MLPClassificationHead(H, labels, H, "gelu", True)(states)`;
- MLP classifiers (Oscar's `mlp`, UNITER's `vqa_output`): `MLPClassificationHead(H, C, 2 * H, ...)(pooled)`;
- contrastive (InfoNCE) embeddings: `EmbeddingProjection(H, 256)(pooled)`.

Scores that rank candidates (answer logits, next-token log-probabilities, matching log-odds, embeddings) go through
`in_float32(head, ...)`, which computes the head in float32 inside a bf16 autocast region.

Every constructor takes plain values and stores each argument under its own name, so that a vlp folder can record a
head as `class_path` and `init_args` and rebuild it (see `vlp.convert.folder`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vlp.model.activations import activation
from vlp.model.init import init_weights


def in_float32(head: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    """`head(*inputs)` computed in float32, also inside a bf16 or fp16 autocast region (`bf16-mixed` training,
    evaluation or prediction).

    bf16 keeps 8 bits of mantissa: answer logits or matching scores near 10 are 0.06 apart, so an argmax over 3,129
    answers, a beam over 30,522 tokens or a ranking of 5,000 captions would tie or swap candidates that float32 keeps
    apart, and the metric would depend on the training precision. The heads are small next to the transformer (one
    row per example, or per decoded token), so float32 costs little. A head whose parameters are not float32
    (`bf16-true`) runs as it is.

    Args:
        head: the head module.
        inputs: its tensor arguments ([..., H] states, and for a tied head its [V, H] output weight).

    Returns:
        the head's output, float32 unless the head's parameters are in lower precision.
    """
    device_type = inputs[0].device.type
    if not torch.is_autocast_enabled(device_type) or any(p.dtype != torch.float32 for p in head.parameters()):
        return head(*inputs)
    with torch.autocast(device_type, enabled=False):
        return head(*(tensor.float() for tensor in inputs))


class TiedPredictionHead(nn.Module):
    """Dense, activation, LayerNorm, then a projection whose weight is borrowed from the model, plus an own bias.

    This is BERT's masked-token head (output weight = the word embeddings) and UNITER's feature-regression head (output
    weight = the transposed region-feature projection). Taking the weight at call time keeps the tie explicit and the
    state dict free of shared tensors.
    """

    def __init__(
        self,
        hidden_size: int,
        output_size: int,
        hidden_act: str = "gelu",
        layer_norm_eps: float = 1e-12,
        initializer_range: float = 0.02,
    ) -> None:
        super().__init__()
        self.hidden_size, self.output_size, self.hidden_act = hidden_size, output_size, hidden_act
        self.layer_norm_eps, self.initializer_range = layer_norm_eps, initializer_range
        self.transform = nn.Linear(hidden_size, hidden_size)
        self.act = activation(hidden_act)
        self.norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(output_size))
        init_weights(self, initializer_range)

    def forward(self, states: torch.Tensor, output_weight: torch.Tensor) -> torch.Tensor:
        """Predicts outputs for the given token states.

        Args:
            states: [..., H] token states (select the masked positions first: the output can be large).
            output_weight: [output_size, H] tied weight, e.g. `VLModel.word_embedding_weight`.

        Returns:
            [..., output_size] logits or regressed features.
        """
        return F.linear(self.norm(self.act(self.transform(states))), output_weight, self.bias)


class ClassificationHead(nn.Module):
    """Dropout and Linear(H -> C) on a pooled output: Oscar's contrastive head (`cls.seq_relationship`, C = 2 or 3),
    image-text matching (C = 2), or a linear task classifier."""

    def __init__(
        self, hidden_size: int, num_classes: int, dropout: float = 0.0, initializer_range: float = 0.02
    ) -> None:
        super().__init__()
        self.hidden_size, self.num_classes = hidden_size, num_classes
        self.dropout, self.initializer_range = dropout, initializer_range
        self.linear = nn.Linear(hidden_size, num_classes)
        init_weights(self, initializer_range)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """[..., H] -> [..., C] logits."""
        return self.linear(F.dropout(pooled, self.dropout, self.training))


class MLPClassificationHead(nn.Module):
    """Dropout, Linear(H -> inner), activation, optional LayerNorm, Linear(inner -> C).

    Covers Oscar's `mlp` classifier (inner 2H, ReLU, no LayerNorm), Oscar's multiple-choice `mlp` with LayerNorm,
    UNITER's `vqa_output` (inner 2H, GELU, LayerNorm) and UNITER's region classifier (inner H, GELU, LayerNorm).
    """

    def __init__(
        self,
        hidden_size: int,
        num_classes: int,
        inner_size: int,
        hidden_act: str = "relu",
        use_layer_norm: bool = False,
        layer_norm_eps: float = 1e-12,
        dropout: float = 0.0,
        initializer_range: float = 0.02,
    ) -> None:
        super().__init__()
        self.hidden_size, self.num_classes, self.inner_size = hidden_size, num_classes, inner_size
        self.hidden_act, self.use_layer_norm, self.layer_norm_eps = hidden_act, use_layer_norm, layer_norm_eps
        self.dropout, self.initializer_range = dropout, initializer_range
        self.dense = nn.Linear(hidden_size, inner_size)
        self.act = activation(hidden_act)
        self.norm = nn.LayerNorm(inner_size, eps=layer_norm_eps) if use_layer_norm else None
        self.out = nn.Linear(inner_size, num_classes)
        init_weights(self, initializer_range)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """[..., H] -> [..., C] logits."""
        hidden = self.act(self.dense(F.dropout(states, self.dropout, self.training)))
        if self.norm is not None:
            hidden = self.norm(hidden)
        return self.out(hidden)


class EmbeddingProjection(nn.Module):
    """Linear(H -> E) and L2 normalisation: the embeddings that in-batch contrastive (InfoNCE) losses compare."""

    def __init__(self, hidden_size: int, embed_dim: int = 256, initializer_range: float = 0.02) -> None:
        super().__init__()
        self.hidden_size, self.embed_dim, self.initializer_range = hidden_size, embed_dim, initializer_range
        self.linear = nn.Linear(hidden_size, embed_dim)
        init_weights(self, initializer_range)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """[..., H] -> [..., E] unit-norm embeddings."""
        return F.normalize(self.linear(pooled), dim=-1)
