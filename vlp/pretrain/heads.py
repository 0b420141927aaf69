"""The heads each pretraining objective puts on `VLModel`, named as checkpoints name them."""

from __future__ import annotations

from torch import nn

from vlp.model import ClassificationHead, EmbeddingProjection, MLPClassificationHead, TiedPredictionHead, VLConfig
from vlp.pretrain.mixing import ObjectiveWeights


def build_heads(
    config: VLConfig,
    weights: ObjectiveWeights,
    contrastive_classes: int = 2,
    num_region_labels: int = 0,
    embed_dim: int = 256,
) -> nn.ModuleDict:
    """One head per active objective (two projections for InfoNCE).

    Names follow `vlp.convert`: `mlm` (BERT's `cls.predictions`), `contrastive` (`cls.seq_relationship`), so that an
    Oscar export of the result carries them; `itm`, `mrfr`, `mrc`, `text_projection` and `image_projection` otherwise.

    Args:
        config: the model's config.
        weights: the objectives; heads of zero-weight objectives are left out.
        contrastive_classes: 2 (Oscar) or 3 (Oscar+).
        num_region_labels: classes of the region classifier (the detector's label vocabulary), needed for `mrc`.
        embed_dim: width of the InfoNCE embeddings.
    """
    hidden, active, init = config.hidden_size, weights.active, config.initializer_range
    heads: dict[str, nn.Module] = {}
    if "mlm" in active:
        heads["mlm"] = TiedPredictionHead(
            hidden, config.vocab_size, config.hidden_act, config.layer_norm_eps, config.initializer_range
        )
    if "contrastive" in active:
        heads["contrastive"] = ClassificationHead(hidden, contrastive_classes, initializer_range=init)
    if "itm" in active:
        heads["itm"] = ClassificationHead(hidden, 2, initializer_range=init)
    if "mrfr" in active:
        heads["mrfr"] = TiedPredictionHead(
            hidden, config.region_feature_dim, config.hidden_act, config.layer_norm_eps, config.initializer_range
        )
    if "mrc" in active:
        if num_region_labels < 1:
            raise ValueError("the mrc objective needs num_region_labels, the size of the region label vocabulary")
        heads["mrc"] = MLPClassificationHead(
            hidden, num_region_labels, hidden, "gelu", True, config.layer_norm_eps, 0.0, config.initializer_range
        )
    if "infonce" in active:
        heads["text_projection"] = EmbeddingProjection(hidden, embed_dim, config.initializer_range)
        heads["image_projection"] = EmbeddingProjection(hidden, embed_dim, config.initializer_range)
    return nn.ModuleDict(heads)
