"""`PretrainCollate`: tokenises, pollutes, pairs, masks and pads a list of `PretrainItem`s into a `PretrainBatch`;
each corruption is a function of `vlp.data.corruptions`.

All randomness of a batch comes from one `torch.Generator` (`vlp.data.randomness.BatchRandomness`): a per-worker
stream in training, seeded from the batch's dataset indices in evaluation (`fixed=True`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from vlp.data.batch import PretrainBatch
from vlp.data.corruption import Corruption
from vlp.data.corruptions import (
    BatchTexts,
    condition_on_one_modality,
    draw_replacements,
    mask_regions,
    mask_structurally,
    mask_tokens,
    maskable_tokens,
    matching_view,
    replace_captions,
    replace_tags,
    second_text,
)
from vlp.data.dataset import PretrainDataset, PretrainItem
from vlp.data.padding import pad_regions, pad_texts
from vlp.data.randomness import BatchRandomness
from vlp.data.tokenizer import WordPieceTokenizer
from vlp.objectives.masked_tokens import apply_token_mask
from vlp.objectives.oscar_contrastive import sample_pollution


class PretrainCollate:
    """Builds `PretrainBatch`es from a `PretrainDataset`'s items.

    Args:
        dataset: the items' dataset (pollution borrows other examples' texts from it).
        tokenizer: the word-piece tokenizer.
        corruption: what to corrupt for which objective.
        max_tokens: the text budget, special tokens included (Oscar: 35).
        tags: put each image's region tags after a caption as text b (Oscar); without them a caption stands alone,
            `[CLS] caption [SEP]` (UNITER, ROSITA). Answers of question corpora are text b either way.
        fixed: seed each batch from its indices (evaluation) rather than from a per-worker stream (training).
    """

    def __init__(
        self,
        dataset: PretrainDataset,
        tokenizer: WordPieceTokenizer,
        corruption: Corruption,
        max_tokens: int = 35,
        tags: bool = True,
        fixed: bool = False,
    ) -> None:
        self.dataset, self.tokenizer, self.corruption = dataset, tokenizer, corruption
        self.max_tokens, self.tags = max_tokens, tags
        self.generator = BatchRandomness(fixed)

    def __call__(self, items: Sequence[PretrainItem]) -> PretrainBatch:
        options, tokenizer = self.corruption, self.tokenizer
        indices = [item.index for item in items]
        generator = self.generator(indices)
        texts = BatchTexts(
            words=[item.words for item in items],
            second=[second_text(item, item, self.tags) for item in items],
            graph_usable=[True] * len(items),
        )
        pollution = None
        if options.contrastive_classes:
            pollution = sample_pollution(
                len(items), options.contrastive_classes, generator, options.pollute_probability, options.caption_share
            )
            replacements = draw_replacements(items, self.dataset, generator)
            replace_tags(texts, pollution, replacements, self.dataset)
            replace_captions(texts, pollution, replacements, self.dataset)
        encoded = [tokenizer.encode_pair(a, b, self.max_tokens) for a, b in zip(texts.words, texts.second, strict=True)]
        text, regions = pad_texts(encoded, tokenizer.pad_id), pad_regions(items)

        maskable = maskable_tokens(text, tokenizer.special_ids, pollution, options.mask_loss_for_unmatched)
        token_mask = mask_tokens(maskable, options.mask_probability, generator)
        region_mask = mask_regions(regions, options.region_mask_probability, generator)
        if options.conditional_masking:
            condition_on_one_modality(token_mask, region_mask, generator)
        if options.structural_masking:
            mask_structurally(items, encoded, texts.graph_usable, token_mask, region_mask, maskable, options, generator)
        text.input_ids, mlm_labels = apply_token_mask(
            text.input_ids, token_mask, tokenizer.mask_id, tokenizer.vocab_size, generator, tokenizer.special_ids
        )
        matching = None
        if options.matching:
            matching = matching_view(
                items, tokenizer, self.max_tokens, self.tags, options.negative_probability, generator
            )
        return PretrainBatch(
            text=text,
            regions=regions,
            mlm_labels=mlm_labels,
            masked_regions=region_mask,
            contrastive_labels=pollution,
            matching=matching,
            index=torch.tensor(indices, dtype=torch.long),
            image_ids=[item.image_id for item in items],
        )
