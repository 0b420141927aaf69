"""`RetrievalCollate`: tokenises captions and tags apart and pads them with the regions into a `RetrievalBatch`."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from finetune.retrieval.batch import CaptionTokens, ImageSide, RetrievalBatch
from finetune.retrieval.dataset import RetrievalItem
from vlp.data.padding import pad_regions
from vlp.data.tokenizer import WordPieceTokenizer


def _pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Long[N, L] right-padded ids (L at least 1) and Bool[N, L] their real positions."""
    ids = torch.full((len(rows), max(1, *(len(row) for row in rows))), pad_id, dtype=torch.long)
    for index, row in enumerate(rows):
        ids[index, : len(row)] = torch.tensor(row, dtype=torch.long)
    lengths = torch.tensor([len(row) for row in rows])
    return ids, torch.arange(ids.shape[1]) < lengths[:, None]


class RetrievalCollate:
    """Builds `RetrievalBatch`es.

    Args:
        tokenizer: the word-piece tokenizer.
        max_tokens: the text budget of a pair, special tokens included (Oscar's retrieval: 70); a caption keeps at most
            `max_tokens - 3` pieces (`max_tokens - 2` without tags), and its pair's tags fill the rest (`pair_inputs`).
        tags: whether pairs will carry tags (and their closing `[SEP]`).
    """

    def __init__(self, tokenizer: WordPieceTokenizer, max_tokens: int = 70, tags: bool = True) -> None:
        if max_tokens < 4:
            raise ValueError(f"max_tokens {max_tokens} leaves no room for a caption and its special tokens")
        self.tokenizer, self.max_tokens, self.tags = tokenizer, max_tokens, tags

    def captions(self, words: Sequence[Sequence[str]]) -> CaptionTokens:
        """[N, C] `[CLS] caption [SEP]` of each caption's words."""
        tokenizer = self.tokenizer
        rows = [
            [
                tokenizer.cls_id,
                *tokenizer.pieces(caption)[0][: self.max_tokens - (3 if self.tags else 2)],
                tokenizer.sep_id,
            ]
            for caption in words
        ]
        return CaptionTokens(*_pad(rows, tokenizer.pad_id))

    def images(self, items: Sequence[RetrievalItem]) -> ImageSide:
        """[M] each item's tag pieces (as many as could fit beside the shortest caption) and regions."""
        rows = [self.tokenizer.pieces(item.tag_words)[0][: self.max_tokens - 3] for item in items]
        regions = pad_regions(items)
        regions.labels = None
        return ImageSide(*_pad(rows, self.tokenizer.pad_id), regions)

    def __call__(self, items: Sequence[RetrievalItem]) -> RetrievalBatch:
        return RetrievalBatch(
            captions=self.captions([item.words for item in items]),
            images=self.images(items),
            image=torch.tensor([item.image for item in items], dtype=torch.long),
            index=torch.tensor([item.index for item in items], dtype=torch.long),
        )
