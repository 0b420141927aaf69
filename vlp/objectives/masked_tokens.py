"""Masked token loss (Oscar MTL, BERT MLM): mask words and tags alike, predict the originals.

`sample_token_mask` picks positions, `apply_token_mask` corrupts them (80% `[MASK]`, 10% a random token, 10% left as
they are) and makes the labels, `masked_token_loss` scores the predictions at the labelled positions.

Oscar takes the loss on the tags of polluted pairs too (its `mask_loss_for_unmatched=1`, our default): the model then
predicts the tags it was shown, which are still a valid masked-LM target. To leave them out, pass
`label_mask=~polluted_tags` to `apply_token_mask`: those positions are still corrupted but carry no label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from vlp.model.config import VLConfig
from vlp.model.heads import TiedPredictionHead
from vlp.objectives.base import HeadSettings, MaskedPass, Objective
from vlp.objectives.draws import randint, uniform
from vlp.objectives.output import IGNORE_INDEX, ObjectiveOutput, classification_output

if TYPE_CHECKING:
    from vlp.data.batch import PretrainBatch
    from vlp.model.model import VLModel

MASK_FRACTION = 0.8
"""Share of the selected positions replaced by `[MASK]`."""
RANDOM_FRACTION = 0.1
"""Share replaced by a random non-special token; the remaining 10% keep their token."""


def sample_token_mask(maskable: Tensor, probability: float = 0.15, generator: torch.Generator | None = None) -> Tensor:
    """Selects each maskable position independently with `probability`.

    Args:
        maskable: Bool[B, T], True at word and tag tokens; False at special tokens ([CLS], [SEP], [PAD]).
        probability: selection rate per maskable position.
        generator: source of randomness.

    Returns:
        Bool[B, T], never True where `maskable` is False.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must lie in [0, 1], got {probability}")
    return maskable & (uniform(tuple(maskable.shape), generator, maskable.device) < probability)


def _random_regular_tokens(
    shape: tuple[int, ...],
    vocab_size: int,
    special_ids: Sequence[int],
    generator: torch.Generator | None,
    device: torch.device,
) -> Tensor:
    """Token ids uniform over the vocabulary without `special_ids`.

    Draws from the `vocab_size - len(specials)` regular ids and steps over each special id in increasing order, which
    maps the draws one-to-one onto the regular ids.
    """
    specials = sorted({int(i) for i in special_ids if 0 <= int(i) < vocab_size})
    if vocab_size - len(specials) < 1:
        raise ValueError("the vocabulary holds no regular token to draw")
    ids = randint(vocab_size - len(specials), shape, generator, device)
    for special in specials:
        ids += (ids >= special).long()
    return ids


def apply_token_mask(
    input_ids: Tensor,
    mask: Tensor,
    mask_token_id: int,
    vocab_size: int,
    generator: torch.Generator | None = None,
    special_ids: Sequence[int] = (),
    label_mask: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Corrupts the selected positions BERT-style and makes the labels.

    Of the selected positions, 80% become `mask_token_id`, 10% a token drawn uniformly from the vocabulary without
    `special_ids`, 10% keep their token. Positions holding a special id are never corrupted, whatever `mask` says.

    Args:
        input_ids: Long[B, T].
        mask: Bool[B, T], the positions to corrupt (from `sample_token_mask` or structural masking).
        mask_token_id: id of `[MASK]`.
        vocab_size: size of the output vocabulary.
        generator: source of randomness.
        special_ids: ids never drawn as random replacements and never corrupted ([CLS], [SEP], [PAD], [MASK], ...).
        label_mask: optional Bool[B, T]; positions where it is False are corrupted but get no label (e.g. polluted
            tags when the loss should skip them). None labels every corrupted position.

    Returns:
        masked_ids: Long[B, T], the corrupted input.
        labels: Long[B, T], the original id at corrupted positions, `IGNORE_INDEX` (-100) elsewhere.
    """
    if mask.shape != input_ids.shape:
        raise ValueError(f"mask {tuple(mask.shape)} does not match input_ids {tuple(input_ids.shape)}")
    specials = torch.tensor(sorted({int(i) for i in special_ids}), dtype=input_ids.dtype, device=input_ids.device)
    mask = mask & ~torch.isin(input_ids, specials)
    draw = uniform(tuple(input_ids.shape), generator, input_ids.device)
    to_mask_token = mask & (draw < MASK_FRACTION)
    to_random = mask & (draw >= MASK_FRACTION) & (draw < MASK_FRACTION + RANDOM_FRACTION)
    random_ids = _random_regular_tokens(tuple(input_ids.shape), vocab_size, special_ids, generator, input_ids.device)
    masked_ids = torch.where(to_mask_token, torch.full_like(input_ids, mask_token_id), input_ids)
    masked_ids = torch.where(to_random, random_ids, masked_ids)
    labelled = mask if label_mask is None else mask & label_mask
    labels = torch.where(labelled, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    return masked_ids, labels


def masked_token_loss(logits: Tensor, labels: Tensor) -> ObjectiveOutput:
    """Cross-entropy of the predicted tokens at the labelled positions.

    Args:
        logits: [N, V], predictions at N positions (select the masked ones first: V is large).
        labels: Long[N], original ids; `IGNORE_INDEX` rows take no loss.

    Returns:
        Mean cross-entropy, top-1 accuracy, and the number of labelled positions.
    """
    return classification_output(logits, labels)


class MaskedTokens(Objective):
    """Oscar's masked token loss over words and tags, through a head tied to the word embeddings."""

    name = "mlm"
    description = "masked token loss over words and tags (Oscar MTL, BERT MLM)"
    default_weight = 1.0
    masks_text = True

    def heads(self, config: VLConfig, settings: HeadSettings) -> dict[str, nn.Module]:
        # Named `mlm`, BERT's `cls.predictions` in every checkpoint format.
        head = TiedPredictionHead(
            config.hidden_size, config.vocab_size, config.hidden_act, config.layer_norm_eps, config.initializer_range
        )
        return {"mlm": head}

    def masked_loss(
        self, model: VLModel, heads: nn.ModuleDict, batch: PretrainBatch, output: MaskedPass
    ) -> ObjectiveOutput:
        selected = batch.mlm_labels != IGNORE_INDEX
        logits = heads["mlm"](output.text_states[selected], model.word_embedding_weight)
        return masked_token_loss(logits, batch.mlm_labels[selected])
