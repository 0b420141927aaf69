"""The corruptions `PretrainCollate` applies to a batch, one small function each: tag pollution and caption
replacement (Oscar's contrastive), token masking (MTL), region masking (MRM), conditional masking (UNITER), structural
knowledge masking (ROSITA SKM) and the image-text matching view (ITM). Each draws from the batch's generator; the
collate calls them in a fixed order, so that a seed gives the same batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from vlp.data.batch import MatchingInputs, RegionInputs, TextInputs
from vlp.data.corruption import Corruption
from vlp.data.dataset import PretrainDataset, PretrainItem, example_words
from vlp.data.padding import pad_texts
from vlp.data.structural import structural_masks
from vlp.data.tokenizer import EncodedPair, WordPieceTokenizer
from vlp.objectives.itm import sample_itm_pairs
from vlp.objectives.masked_regions import choose_masked_modality, sample_region_mask
from vlp.objectives.masked_tokens import sample_token_mask
from vlp.objectives.oscar_contrastive import CAPTION_REPLACED, TAGS_REPLACED, pick_replacements

# Redraws of a replacement that came from the pollutee's own image (another caption of it) before giving up; a
# handful suffices unless nearly all of a dataset is one image.
REPLACEMENT_DRAWS = 10


@dataclass
class BatchTexts:
    """A batch's texts before tokenisation, as the text corruptions change them.

    Attributes:
        words: [B] the words of each text (caption or question).
        second: [B] each text b (tags or answer), None without one.
        graph_usable: [B] whether the text's scene graph still describes its image (not after caption replacement).
    """

    words: list[list[str]]
    second: list[list[str] | None]
    graph_usable: list[bool]


def second_text(item: PretrainItem, image: PretrainItem, tags: bool) -> list[str] | None:
    """Text b of `item` shown with `image`'s regions: its answer, which belongs to the text, or the image's tags,
    which belong to the image and move with it; None without either."""
    if item.words_b is not None:
        return item.words_b
    return image.tag_words if tags else None


def draw_replacements(
    items: Sequence[PretrainItem], dataset: PretrainDataset, generator: torch.Generator
) -> torch.Tensor:
    """Long[B] another example of the dataset per item, from another image wherever the dataset allows.

    Drawn uniformly over the whole dataset, as VinVL draws text b from any document; redrawn while it shares the
    item's image, because another caption of the same image would make a "polluted" pair that is in fact true.
    """
    own = torch.tensor([item.index for item in items], dtype=torch.long)
    picked = pick_replacements(len(items), len(dataset), own, generator)
    for _ in range(REPLACEMENT_DRAWS):
        same = [i for i, item in enumerate(items) if dataset.image_id(int(picked[i])) == item.image_id]
        if not same:
            break
        rows = torch.tensor(same, dtype=torch.long)
        picked[rows] = pick_replacements(len(same), len(dataset), own[rows], generator)
    return picked


def replace_tags(texts: BatchTexts, labels: torch.Tensor, replacements: torch.Tensor, dataset: PretrainDataset) -> None:
    """Oscar's tag pollution, in place: where `labels` [B] says `TAGS_REPLACED`, text b becomes that of the example
    `replacements` [B] names (its tags, or its answer)."""
    for row, (label, other) in enumerate(zip(labels.tolist(), replacements.tolist(), strict=True)):
        if label == TAGS_REPLACED:
            texts.second[row] = dataset.second_words(other)


def replace_captions(
    texts: BatchTexts, labels: torch.Tensor, replacements: torch.Tensor, dataset: PretrainDataset
) -> None:
    """Oscar+'s caption replacement, in place: where `labels` [B] says `CAPTION_REPLACED`, the text becomes that of
    the example `replacements` [B] names, and its scene graph no longer describes the image."""
    for row, (label, other) in enumerate(zip(labels.tolist(), replacements.tolist(), strict=True)):
        if label == CAPTION_REPLACED:
            texts.words[row], texts.graph_usable[row] = example_words(dataset.example(other)), False


def maskable_tokens(
    text: TextInputs, special_ids: Sequence[int], pollution: torch.Tensor | None, mask_loss_for_unmatched: bool
) -> torch.Tensor:
    """Bool[B, T] the tokens the masked token loss may mask: real, not special, and not polluted tags unless
    `mask_loss_for_unmatched` (Oscar's default)."""
    special = torch.isin(text.input_ids, torch.tensor(list(special_ids)))
    maskable = text.text_mask & ~special
    if pollution is not None and not mask_loss_for_unmatched:
        maskable &= ~((pollution == TAGS_REPLACED)[:, None] & (text.token_type_ids == 1))
    return maskable


def mask_tokens(maskable: torch.Tensor, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Bool[B, T] the tokens to mask, each maskable one with `probability`."""
    return sample_token_mask(maskable, probability, generator)


def mask_regions(regions: RegionInputs, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Bool[B, R] the regions to mask for masked region modelling (none when `probability` is 0)."""
    if not probability:
        return torch.zeros_like(regions.mask)
    return sample_region_mask(regions.mask, probability, generator)


def condition_on_one_modality(token_mask: torch.Tensor, region_mask: torch.Tensor, generator: torch.Generator) -> None:
    """UNITER's conditional masking, in place: each example keeps its token mask [B, T] or its region mask [B, R],
    never both."""
    mask_text = choose_masked_modality(token_mask.shape[0], generator)
    token_mask &= mask_text[:, None]
    region_mask &= ~mask_text[:, None]


def mask_structurally(
    items: Sequence[PretrainItem],
    encoded: Sequence[EncodedPair],
    usable: Sequence[bool],
    token_mask: torch.Tensor,
    region_mask: torch.Tensor,
    maskable: torch.Tensor,
    corruption: Corruption,
    generator: torch.Generator,
) -> None:
    """ROSITA's structural knowledge masking, in place: overwrites the random masks of each example whose scene graph
    yields structural masks (`vlp.data.structural.structural_masks`); the others keep theirs."""
    for row, (item, pair) in enumerate(zip(items, encoded, strict=True)):
        if not usable[row]:
            continue
        masks = structural_masks(item, pair, corruption, generator)
        if masks is None:
            continue
        tokens, regions = masks
        token_mask[row] = False
        token_mask[row, : tokens.shape[0]] = tokens & maskable[row, : tokens.shape[0]]
        region_mask[row] = False
        region_mask[row, : regions.shape[0]] = regions


def matching_view(
    items: Sequence[PretrainItem],
    tokenizer: WordPieceTokenizer,
    max_tokens: int,
    tags: bool,
    negative_probability: float,
    generator: torch.Generator,
) -> MatchingInputs:
    """The image-text matching view: unpolluted, unmasked texts paired with their own or an in-batch image."""
    image_index, _ = sample_itm_pairs(len(items), generator, negative_probability)
    encoded = [
        tokenizer.encode_pair(item.words, second_text(item, items[partner], tags), max_tokens)
        for item, partner in zip(items, image_index.tolist(), strict=True)
    ]
    # Two rows may hold the same image (two captions of it): that pair is a match whatever was drawn.
    labels = torch.tensor(
        [items[p].image_id == item.image_id for item, p in zip(items, image_index.tolist(), strict=True)],
        dtype=torch.long,
    )
    tags_follow_image = tags and any(item.words_b is None for item in items)
    return MatchingInputs(pad_texts(encoded, tokenizer.pad_id), image_index, labels, tags_follow_image)
