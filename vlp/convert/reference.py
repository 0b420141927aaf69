"""Oscar's and UNITER's models rebuilt from `transformers` BERT modules, under their original parameter names.

Both originals are compositions of BERT modules (embeddings, layers, pooler, prediction-head transform) and a few plain
torch layers; composing `transformers`' modules the way each original `forward` does gives an independent
implementation that loads an official state dict with `strict=True`. It is the yardstick of `vlp convert --verify`,
of the conversion tests, and the baseline of `benchmarks/model_speed.py` (eager attention, inputs padded to the
maximum length, as Oscar and UNITER run).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertEmbeddings, BertEncoder, BertPooler, BertPredictionHeadTransform

from vlp.model.config import GEOMETRY_DIMS, VLConfig

# Added to the scores of masked keys by Oscar and UNITER (and BERT of their time).
MASKED_SCORE = -10000.0


def bert_config(config: VLConfig, attn_implementation: str = "eager") -> BertConfig:
    """The `transformers.BertConfig` of the text part of `config`."""
    return BertConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        intermediate_size=config.intermediate_size,
        hidden_act=config.hidden_act,
        hidden_dropout_prob=config.hidden_dropout,
        attention_probs_dropout_prob=config.attention_dropout,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        layer_norm_eps=config.layer_norm_eps,
        pad_token_id=config.pad_token_id,
        initializer_range=config.initializer_range,
        attn_implementation=attn_implementation,
    )


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Oscar's extended mask: [B, L] or [B, L, L] 0/1 -> [B, 1, 1 or L, L] with 0 (attend) or -10000 (masked)."""
    extended = mask[:, None, None, :] if mask.dim() == 2 else mask[:, None]
    return (1.0 - extended.to(dtype)) * MASKED_SCORE


def uniter_gather_layout(
    text_lengths: torch.Tensor, region_lengths: torch.Tensor, text_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """UNITER's packing of each example's real text and regions (its data loaders' `get_gather_index`).

    Args:
        text_lengths: [B] real text tokens per example.
        region_lengths: [B] real regions per example.
        text_length: T, the padded text length (regions start at T in `cat([text, regions])`).

    Returns:
        `gather_index` [B, L_out] into the padded `[T + R]` layout and `attn_masks` [B, L_out] bool, where
        L_out = max(text + regions). Positions past an example's tokens keep their own index, as in UNITER.
    """
    out = int((text_lengths + region_lengths).max())
    positions = torch.arange(out).unsqueeze(0)
    starts, ends = text_lengths.unsqueeze(1), (text_lengths + region_lengths).unsqueeze(1)
    is_region = (positions >= starts) & (positions < ends)
    gather_index = torch.where(is_region, positions - starts + text_length, positions)
    return gather_index, positions < ends


class LMPredictionHead(nn.Module):
    """BERT's masked-token head as Oscar and UNITER hold it: `transform`, a bias-free `decoder` tied to the word
    embeddings, and a separate `bias`."""

    def __init__(self, bert: BertConfig, word_embeddings: nn.Embedding) -> None:
        super().__init__()
        self.transform = BertPredictionHeadTransform(bert)
        self.decoder = nn.Linear(bert.hidden_size, bert.vocab_size, bias=False)
        self.decoder.weight = word_embeddings.weight
        self.bias = nn.Parameter(torch.zeros(bert.vocab_size))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """[..., H] -> [..., V] logits."""
        return self.decoder(self.transform(states)) + self.bias


class OscarImgBert(nn.Module):
    """Oscar's `BertImgModel` for region features (`img_feature_type` not a discrete code)."""

    def __init__(self, config: VLConfig, bert: BertConfig) -> None:
        super().__init__()
        self.embeddings = BertEmbeddings(bert)
        self.encoder = BertEncoder(bert)
        self.pooler = BertPooler(bert)
        self.img_embedding = nn.Linear(config.region_feature_dim + GEOMETRY_DIMS["oscar"], config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout)
        if config.use_region_layernorm:
            self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.region_layer_norm_eps)

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        img_feats: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Oscar's inputs (`attention_mask` [B, T + R] or [B, T + R, T + R]; `img_feats` [B, R, D + 6]) -> sequence
        [B, T + R, H] and pooled [B, H] outputs."""
        embeddings = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        regions = self.img_embedding(img_feats)
        if hasattr(self, "LayerNorm"):
            regions = self.LayerNorm(regions)
        embeddings = torch.cat([embeddings, self.dropout(regions)], dim=1)
        sequence = self.encoder(embeddings, attention_mask=additive_mask(attention_mask, embeddings.dtype))
        sequence = sequence.last_hidden_state
        return sequence, self.pooler(sequence)


class OscarReference(nn.Module):
    """Oscar's models (`BertImgForPreTraining`, `ImageBertForSequenceClassification`, ...) with the heads asked for.

    Args:
        config: Sizes (oscar region style).
        mlm: Add `cls.predictions` (tied to the word embeddings).
        num_contrast_classes: Add `cls.seq_relationship` with this many outputs.
        classifier: Add `classifier`, `linear` or `mlp` (Linear, ReLU, [LayerNorm], Linear).
        num_labels: Classifier outputs.
        cls_hidden_scale: Width of the mlp classifier's hidden layer, in multiples of H.
        classifier_layer_norm: Insert the LayerNorm of the multiple-choice mlp classifier.
        attn_implementation: `transformers` attention implementation.
    """

    def __init__(
        self,
        config: VLConfig,
        mlm: bool = False,
        num_contrast_classes: int | None = None,
        classifier: Literal["linear", "mlp"] | None = None,
        num_labels: int = 2,
        cls_hidden_scale: int = 2,
        classifier_layer_norm: bool = False,
        attn_implementation: str = "eager",
    ) -> None:
        super().__init__()
        bert = bert_config(config, attn_implementation)
        self.bert = OscarImgBert(config, bert)
        hidden = config.hidden_size
        if mlm or num_contrast_classes:
            self.cls = nn.Module()
            if mlm:
                self.cls.predictions = LMPredictionHead(bert, self.bert.embeddings.word_embeddings)
            if num_contrast_classes:
                self.cls.seq_relationship = nn.Linear(hidden, num_contrast_classes)
        self.dropout = nn.Dropout(config.hidden_dropout)
        if classifier == "linear":
            self.classifier = nn.Linear(hidden, num_labels)
        elif classifier == "mlp":
            inner = hidden * cls_hidden_scale
            norm = [nn.LayerNorm(inner, eps=config.layer_norm_eps)] if classifier_layer_norm else []
            self.classifier = nn.Sequential(nn.Linear(hidden, inner), nn.ReLU(), *norm, nn.Linear(inner, num_labels))

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        img_feats: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sequence and pooled outputs, as `OscarImgBert.forward`."""
        return self.bert(input_ids, token_type_ids, attention_mask, img_feats)

    def mlm_logits(self, states: torch.Tensor) -> torch.Tensor:
        """[..., H] -> [..., V]."""
        return self.cls.predictions(states)

    def contrastive_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        """[B, H] -> [B, num_contrast_classes]."""
        return self.cls.seq_relationship(pooled)

    def classifier_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        """[B, H] -> [B, num_labels], dropout first as in Oscar."""
        return self.classifier(self.dropout(pooled))


class UniterImageEmbeddings(nn.Module):
    """UNITER's `UniterImageEmbeddings`."""

    def __init__(self, config: VLConfig) -> None:
        super().__init__()
        hidden, eps = config.hidden_size, config.layer_norm_eps
        self.img_linear = nn.Linear(config.region_feature_dim, hidden)
        self.img_layer_norm = nn.LayerNorm(hidden, eps=eps)
        self.pos_layer_norm = nn.LayerNorm(hidden, eps=eps)
        self.pos_linear = nn.Linear(GEOMETRY_DIMS["uniter"], hidden)
        self.mask_embedding = nn.Embedding(2, config.region_feature_dim, padding_idx=0)
        self.LayerNorm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self,
        img_feat: torch.Tensor,
        img_pos_feat: torch.Tensor,
        type_embeddings: torch.Tensor,
        img_masks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """[B, R, D] features, [B, R, 7] geometry, [B, R, H] type embeddings, [B, R] mask flags -> [B, R, H]."""
        if img_masks is not None:
            # UNITER zeroes row 0 in place before every use, so that unmasked regions get nothing added.
            with torch.no_grad():
                self.mask_embedding.weight[0].fill_(0)
            img_feat = img_feat + self.mask_embedding(img_masks.long())
        transformed_im = self.img_layer_norm(self.img_linear(img_feat))
        transformed_pos = self.pos_layer_norm(self.pos_linear(img_pos_feat))
        return self.dropout(self.LayerNorm(transformed_im + transformed_pos + type_embeddings))


class UniterBackbone(nn.Module):
    """UNITER's `UniterModel`, with its `gather_index` packing of text and regions."""

    def __init__(self, config: VLConfig, bert: BertConfig) -> None:
        super().__init__()
        self.embeddings = BertEmbeddings(bert)
        self.img_embeddings = UniterImageEmbeddings(config)
        self.encoder = BertEncoder(bert)
        self.pooler = BertPooler(bert)

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        img_feat: torch.Tensor,
        img_pos_feat: torch.Tensor,
        attn_masks: torch.Tensor,
        gather_index: torch.Tensor,
        img_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """UNITER's inputs (`attn_masks` and `gather_index` [B, L_out]) -> sequence [B, L_out, H], pooled [B, H]."""
        text = self.embeddings(input_ids=input_ids, position_ids=position_ids)
        img_type_ids = torch.ones_like(img_feat[:, :, 0].long())
        regions = self.img_embeddings(
            img_feat, img_pos_feat, self.embeddings.token_type_embeddings(img_type_ids), img_masks
        )
        index = gather_index.unsqueeze(-1).expand(-1, -1, text.shape[-1])
        embeddings = torch.gather(torch.cat([text, regions], dim=1), dim=1, index=index)
        sequence = self.encoder(embeddings, attention_mask=additive_mask(attn_masks, embeddings.dtype))
        sequence = sequence.last_hidden_state
        return sequence, self.pooler(sequence)


class UniterReference(nn.Module):
    """UNITER's models (`UniterForPretraining`, `...ForVisualQuestionAnswering`, `...ForImageTextRetrieval`) with the
    heads asked for.

    Args:
        config: Sizes (uniter region style).
        mlm: Add `cls.predictions` (tied to the word embeddings).
        itm: Add `itm_output`, Linear(H -> 2).
        rank: Add `rank_output`, Linear(H -> 1).
        region_regression: Add `feat_regress` (tied to `img_linear`).
        num_region_labels: Add `region_classifier` with this many labels.
        num_answers: Add `vqa_output` with this many answers.
        attn_implementation: `transformers` attention implementation.
    """

    def __init__(
        self,
        config: VLConfig,
        mlm: bool = False,
        itm: bool = False,
        rank: bool = False,
        region_regression: bool = False,
        num_region_labels: int | None = None,
        num_answers: int | None = None,
        attn_implementation: str = "eager",
    ) -> None:
        super().__init__()
        bert = bert_config(config, attn_implementation)
        self.uniter = UniterBackbone(config, bert)
        hidden, eps = config.hidden_size, config.layer_norm_eps
        if mlm:
            self.cls = nn.Module()
            self.cls.predictions = LMPredictionHead(bert, self.uniter.embeddings.word_embeddings)
        if itm:
            self.itm_output = nn.Linear(hidden, 2)
        if rank:
            self.rank_output = nn.Linear(hidden, 1)
        if region_regression:
            self.feat_regress = nn.Module()
            self.feat_regress.net = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden, eps=eps))
            self.feat_regress.weight = self.uniter.img_embeddings.img_linear.weight
            self.feat_regress.bias = nn.Parameter(torch.zeros(config.region_feature_dim))
        if num_region_labels:
            self.region_classifier = nn.Module()
            self.region_classifier.net = self._mlp(hidden, hidden, num_region_labels, eps)
        if num_answers:
            self.vqa_output = self._mlp(hidden, 2 * hidden, num_answers, eps)

    @staticmethod
    def _mlp(hidden: int, inner: int, outputs: int, eps: float) -> nn.Sequential:
        layers = [nn.Linear(hidden, inner), nn.GELU(), nn.LayerNorm(inner, eps=eps), nn.Linear(inner, outputs)]
        return nn.Sequential(*layers)

    def forward(
        self,
        input_ids: torch.Tensor,
        position_ids: torch.Tensor,
        img_feat: torch.Tensor,
        img_pos_feat: torch.Tensor,
        attn_masks: torch.Tensor,
        gather_index: torch.Tensor,
        img_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sequence and pooled outputs, as `UniterBackbone.forward`."""
        return self.uniter(input_ids, position_ids, img_feat, img_pos_feat, attn_masks, gather_index, img_masks)

    def region_regression(self, states: torch.Tensor) -> torch.Tensor:
        """[..., H] -> [..., D], UNITER's `RegionFeatureRegression`."""
        return F.linear(self.feat_regress.net(states), self.feat_regress.weight.t(), self.feat_regress.bias)
