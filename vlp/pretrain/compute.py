"""The pretraining objectives of one batch: which forward passes they need, and their losses.

Objectives that read the masked (and polluted) input share a forward pass when they run together: masked token loss,
Oscar's contrastive loss and masked region modelling, as Oscar computes its two losses from one pass. Image-text
matching runs on its own view (the texts with their own or another image), InfoNCE on a text-only and an image-only
pass. Run alone (UNITER's task sampling), an objective sees only its own corruption: masked tokens with intact
regions, masked regions with intact text, the contrastive loss on the unmasked polluted text. With hard negatives,
the matching view's swapped images are redrawn from the InfoNCE similarity of the same step (ALBEF).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vlp.data.batch import MatchingInputs, PretrainBatch
from vlp.model import RegionInputs, TextInputs, VLModel, VLOutput
from vlp.objectives.base import MaskedPass
from vlp.objectives.infonce import MAX_LOGIT_SCALE, clamp_logit_scale, info_nce_loss
from vlp.objectives.itm import itm_loss, pair_images
from vlp.objectives.oscar_contrastive import CAPTION_REPLACED
from vlp.objectives.output import ObjectiveOutput
from vlp.pretrain.objectives import BY_NAME


def masked_views(objectives: Sequence[str], shared: bool) -> list[tuple[bool, bool, list[str]]]:
    """Groups the masked-input objectives into forward passes.

    Args:
        objectives: the objectives of this step.
        shared: one pass for all of them (Oscar, UNITER with conditional masking), or one per kind of corruption.

    Returns:
        (mask the text, mask the regions, objectives) per pass.
    """
    wanted = [BY_NAME[name] for name in objectives if BY_NAME[name].reads_masked_input]
    if not wanted:
        return []
    names = [objective.name for objective in wanted]
    if shared:
        return [(any(o.masks_text for o in wanted), any(o.masks_regions for o in wanted), names)]
    passes: dict[tuple[bool, bool], list[str]] = {}
    for objective in wanted:
        passes.setdefault((objective.masks_text, objective.masks_regions), []).append(objective.name)
    return [(text, regions, names) for (text, regions), names in passes.items()]


def _encode(
    model: VLModel,
    text: TextInputs,
    batch: PretrainBatch,
    masked_regions: torch.Tensor | None,
    image_index: torch.Tensor | None = None,
) -> VLOutput:
    """Runs the model on texts and the batch's regions (rows `image_index` of them when given), masking
    `masked_regions` in the model's style: UNITER's mask embedding, or zeroed features for Oscar."""
    regions = batch.regions
    features, geometry, region_mask = regions.features, regions.geometry, regions.mask
    if image_index is not None:
        features, geometry, region_mask = features[image_index], geometry[image_index], region_mask[image_index]
    if masked_regions is not None and model.config.region_style == "oscar":
        features, masked_regions = features.masked_fill(masked_regions[..., None], 0.0), None
    return model(text, RegionInputs(features, geometry, region_mask), masked_regions=masked_regions)


def _masked_pass(
    model: VLModel,
    heads: nn.ModuleDict,
    batch: PretrainBatch,
    mask_text: bool,
    mask_regions: bool,
    objectives: Sequence[str],
) -> dict[str, ObjectiveOutput]:
    text = batch.text
    input_ids = text.input_ids if mask_text else batch.unmasked_input_ids()
    masked = batch.masked_regions & batch.regions.mask if mask_regions else None
    output = _encode(model, TextInputs(input_ids, text.token_type_ids, text.text_mask), batch, masked)
    length = input_ids.shape[1]
    states = MaskedPass(
        output.sequence_output[:, :length], output.sequence_output[:, length:], output.pooled_output, masked
    )
    return {name: BY_NAME[name].masked_loss(model, heads, batch, states) for name in objectives}


def _matching(model: VLModel, heads: nn.ModuleDict, batch: PretrainBatch, view: MatchingInputs) -> ObjectiveOutput:
    output = _encode(model, view.text, batch, None, view.image_index)
    return itm_loss(heads["itm"](output.pooled_output), view.labels)


def _embeddings(model: VLModel, heads: nn.ModuleDict, batch: PretrainBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """[B, E] projected text and image embeddings of InfoNCE: a text-only pass over the caption segment
    (`[CLS] text [SEP]`: text b may be image-derived tags) and an image-only pass over the regions, both unmasked."""
    labels = batch.contrastive_labels
    if labels is not None and bool((labels == CAPTION_REPLACED).any()):
        raise ValueError("infonce needs each caption with its own image: do not combine it with 3-way pollution")
    text = TextInputs(batch.unmasked_input_ids(), batch.text.token_type_ids, batch.text.text_mask)
    return model.encode_text(text, heads["text_projection"]), model.encode_image(
        batch.regions, heads["image_projection"]
    )


def in_batch_similarity(texts: torch.Tensor, images: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Float[B, B] detached text-to-image InfoNCE logits of this process's texts [B, E] and images [B, E]: the
    cosine similarities times the capped logit scale, as `info_nce_loss` scores them."""
    texts, images = F.normalize(texts.detach().float(), dim=-1), F.normalize(images.detach().float(), dim=-1)
    return clamp_logit_scale(logit_scale.detach(), MAX_LOGIT_SCALE).exp() * texts @ images.t()


def same_image_mask(image_ids: Sequence[str], device: torch.device) -> torch.Tensor:
    """Bool[B, B], True where rows i and j hold the same image (the diagonal included)."""
    numbers: dict[str, int] = {}
    codes = torch.tensor([numbers.setdefault(image_id, len(numbers)) for image_id in image_ids], device=device)
    return codes[:, None] == codes[None, :]


def hard_negative_view(
    batch: PretrainBatch, view: MatchingInputs, similarity: torch.Tensor, generator: torch.Generator
) -> MatchingInputs:
    """The matching view with the image of each text the collate swapped redrawn in proportion to the softmax of
    `similarity` [B, B] over the rows holding another image (ALBEF's hard negatives, within this process's batch).

    The collate keeps deciding which texts get another image (`corruption.negative_probability`); only which image
    changes. The texts stay as encoded, which is only right when they do not depend on their image.
    """
    if view.tags_follow_image:
        raise ValueError(
            "itm_hard_negatives cannot re-pair texts whose text b is their image's tags (Oscar style, data tags: true "
            "with captions); set data.tags: false, or turn itm_hard_negatives off"
        )
    swapped = view.image_index != torch.arange(batch.size, device=view.image_index.device)
    same_image = same_image_mask(batch.image_ids, swapped.device)
    image_index, labels = pair_images(swapped, generator, similarity, same_image)
    return dataclasses.replace(view, image_index=image_index, labels=labels)


def compute_objectives(
    model: VLModel,
    heads: nn.ModuleDict,
    batch: PretrainBatch,
    objectives: Sequence[str],
    shared: bool,
    logit_scale: torch.Tensor | None = None,
    hard_negatives: torch.Generator | None = None,
) -> dict[str, ObjectiveOutput]:
    """The losses of `objectives` on `batch`.

    Args:
        model: the transformer.
        heads: its heads by objective (`build_heads`).
        batch: a batch built with the corruption these objectives need.
        objectives: names of `ObjectiveWeights` fields to compute.
        shared: whether the masked-input objectives share one forward pass (see `masked_views`).
        logit_scale: InfoNCE's log logit scale, when `infonce` is among the objectives or `hard_negatives` is given.
        hard_negatives: when given, the source of randomness for redrawing the ITM negatives from the InfoNCE
            similarity of this step (`hard_negative_view`); the embeddings are computed without gradient when
            `infonce` itself is not among the objectives. None keeps the collate's uniform negatives.

    Returns:
        An `ObjectiveOutput` per objective, in the order given.
    """
    results: dict[str, ObjectiveOutput] = {}
    for mask_text, mask_regions, names in masked_views(objectives, shared):
        results |= _masked_pass(model, heads, batch, mask_text, mask_regions, names)
    needs_scale = "infonce" in objectives or (hard_negatives is not None and "itm" in objectives)
    if needs_scale and logit_scale is None:
        raise ValueError("the infonce objective and ITM hard negatives need a logit scale")
    embeddings = None
    if "itm" in objectives:
        view = batch.matching
        if view is None:
            raise ValueError("the itm objective needs batches with a matching view (corruption.matching)")
        if hard_negatives is not None:
            # Without infonce in this step (`sample` mixing) the embeddings only rank images: no graph to keep.
            with torch.set_grad_enabled(torch.is_grad_enabled() and "infonce" in objectives):
                embeddings = _embeddings(model, heads, batch)
            view = hard_negative_view(batch, view, in_batch_similarity(*embeddings, logit_scale), hard_negatives)
        results["itm"] = _matching(model, heads, batch, view)
    if "infonce" in objectives:
        texts, images = embeddings if embeddings is not None else _embeddings(model, heads, batch)
        results["infonce"] = info_nce_loss(texts, images, logit_scale)
    return {name: results[name] for name in objectives}
