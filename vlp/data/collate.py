"""`PretrainCollate`: tokenises, pollutes, pairs, masks and pads a list of `PretrainItem`s into a `PretrainBatch`.

All randomness of a batch comes from one `torch.Generator`. In training it is seeded once per DataLoader worker from
the worker's seed (which Lightning's `seed_everything(workers=True)` derives from the global seed, the worker and the
process rank) and once per process without workers, so runs with the same seed and worker count corrupt the same
batches. In evaluation (`fixed=True`) it is seeded from the batch's dataset indices, so every validation pass sees
the same corruption and validation losses compare across epochs.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence

import numpy as np
import torch

from vlp import distributed
from vlp.data.batch import MatchingInputs, PretrainBatch
from vlp.data.corruption import Corruption
from vlp.data.dataset import PretrainDataset, PretrainItem, example_words
from vlp.data.padding import pad_regions, pad_texts
from vlp.data.structural import structural_masks
from vlp.data.tokenizer import EncodedPair, WordPieceTokenizer
from vlp.objectives.itm import sample_itm_pairs
from vlp.objectives.masked_regions import choose_masked_modality, sample_region_mask
from vlp.objectives.masked_tokens import apply_token_mask, sample_token_mask
from vlp.objectives.oscar_contrastive import CAPTION_REPLACED, TAGS_REPLACED, pick_replacements, sample_pollution

# Redraws of a replacement that came from the pollutee's own image (another caption of it) before giving up; a
# handful suffices unless nearly all of a dataset is one image.
REPLACEMENT_DRAWS = 10


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
        self.max_tokens, self.tags, self.fixed = max_tokens, tags, fixed
        self._stream: torch.Generator | None = None
        self._stream_key: tuple[int, int] | None = None

    def generator(self, indices: Sequence[int]) -> torch.Generator:
        """The random stream for a batch of these dataset indices."""
        if self.fixed:
            return torch.Generator().manual_seed(zlib.crc32(np.asarray(indices, dtype=np.int64).tobytes()))
        # A new worker process (or an epoch's new workers, which get new seeds) starts a new stream.
        key = (os.getpid(), torch.initial_seed())
        if self._stream is None or self._stream_key != key:
            seed = (torch.initial_seed() + 1_000_003 * distributed.rank()) % 2**63
            self._stream, self._stream_key = torch.Generator().manual_seed(seed), key
        return self._stream

    def __call__(self, items: Sequence[PretrainItem]) -> PretrainBatch:
        options, tokenizer = self.corruption, self.tokenizer
        indices = [item.index for item in items]
        generator = self.generator(indices)
        size = len(items)
        words = [item.words for item in items]
        second = [self._second(item, item) for item in items]
        graphs_usable = [True] * size
        pollution = None
        if options.contrastive_classes:
            pollution = sample_pollution(
                size, options.contrastive_classes, generator, options.pollute_probability, options.caption_share
            )
            replacements = self._replacements(items, generator)
            for row, (label, other) in enumerate(zip(pollution.tolist(), replacements.tolist(), strict=True)):
                if label == TAGS_REPLACED:
                    second[row] = self.dataset.second_words(other)
                elif label == CAPTION_REPLACED:
                    # The borrowed text's scene graph describes another image: no structural masking for it.
                    words[row], graphs_usable[row] = example_words(self.dataset.example(other)), False
        encoded = [tokenizer.encode_pair(a, b, self.max_tokens) for a, b in zip(words, second, strict=True)]
        text, regions = pad_texts(encoded, tokenizer.pad_id), pad_regions(items)

        special = torch.isin(text.input_ids, torch.tensor(tokenizer.special_ids))
        maskable = text.text_mask & ~special
        if pollution is not None and not options.mask_loss_for_unmatched:
            maskable &= ~((pollution == TAGS_REPLACED)[:, None] & (text.token_type_ids == 1))
        token_mask = sample_token_mask(maskable, options.mask_probability, generator)
        region_mask = (
            sample_region_mask(regions.mask, options.region_mask_probability, generator)
            if options.region_mask_probability
            else torch.zeros_like(regions.mask)
        )
        if options.conditional_masking:
            mask_text = choose_masked_modality(size, generator)
            token_mask &= mask_text[:, None]
            region_mask &= ~mask_text[:, None]
        if options.structural_masking:
            self._structural(items, encoded, graphs_usable, token_mask, region_mask, maskable, generator)
        masked_ids, mlm_labels = apply_token_mask(
            text.input_ids, token_mask, tokenizer.mask_id, tokenizer.vocab_size, generator, tokenizer.special_ids
        )
        text.input_ids = masked_ids
        return PretrainBatch(
            text=text,
            regions=regions,
            mlm_labels=mlm_labels,
            masked_regions=region_mask,
            contrastive_labels=pollution,
            matching=self._matching(items, generator) if options.matching else None,
            index=torch.tensor(indices, dtype=torch.long),
            image_ids=[item.image_id for item in items],
        )

    def _second(self, item: PretrainItem, image: PretrainItem) -> list[str] | None:
        """Text b of `item` shown with `image`'s regions: its answer, which belongs to the text, or the image's tags,
        which belong to the image and move with it; None without either."""
        if item.words_b is not None:
            return item.words_b
        return image.tag_words if self.tags else None

    def _replacements(self, items: Sequence[PretrainItem], generator: torch.Generator) -> torch.Tensor:
        """Long[B] another example of the dataset per item, from another image wherever the dataset allows.

        Drawn uniformly over the whole dataset, as VinVL draws text b from any document; redrawn while it shares the
        item's image, because another caption of the same image would make a "polluted" pair that is in fact true.
        """
        own = torch.tensor([item.index for item in items], dtype=torch.long)
        picked = pick_replacements(len(items), len(self.dataset), own, generator)
        for _ in range(REPLACEMENT_DRAWS):
            same = [i for i, item in enumerate(items) if self.dataset.image_id(int(picked[i])) == item.image_id]
            if not same:
                break
            rows = torch.tensor(same, dtype=torch.long)
            picked[rows] = pick_replacements(len(same), len(self.dataset), own[rows], generator)
        return picked

    def _structural(
        self,
        items: Sequence[PretrainItem],
        encoded: Sequence[EncodedPair],
        usable: Sequence[bool],
        token_mask: torch.Tensor,
        region_mask: torch.Tensor,
        maskable: torch.Tensor,
        generator: torch.Generator,
    ) -> None:
        """Overwrites, in place, the random masks of each example whose scene graph yields structural masks."""
        for row, (item, pair) in enumerate(zip(items, encoded, strict=True)):
            if not usable[row]:
                continue
            masks = structural_masks(item, pair, self.corruption, generator)
            if masks is None:
                continue
            tokens, regions = masks
            token_mask[row] = False
            token_mask[row, : tokens.shape[0]] = tokens & maskable[row, : tokens.shape[0]]
            region_mask[row] = False
            region_mask[row, : regions.shape[0]] = regions

    def _matching(self, items: Sequence[PretrainItem], generator: torch.Generator) -> MatchingInputs:
        """The image-text matching view: unpolluted, unmasked texts paired with their own or an in-batch image."""
        image_index, _ = sample_itm_pairs(len(items), generator, self.corruption.negative_probability)
        encoded = []
        for item, partner in zip(items, image_index.tolist(), strict=True):
            encoded.append(self.tokenizer.encode_pair(item.words, self._second(item, items[partner]), self.max_tokens))
        # Two rows may hold the same image (two captions of it): that pair is a match whatever was drawn.
        labels = torch.tensor(
            [items[p].image_id == item.image_id for item, p in zip(items, image_index.tolist(), strict=True)],
            dtype=torch.long,
        )
        tags_follow_image = self.tags and any(item.words_b is None for item in items)
        return MatchingInputs(pad_texts(encoded, self.tokenizer.pad_id), image_index, labels, tags_follow_image)
