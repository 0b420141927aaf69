"""`VQACollate`: tokenises and pads a list of `VQAItem`s into a `VQABatch`, with dense soft targets."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from finetune.vqa.batch import VQABatch
from finetune.vqa.dataset import VQAItem
from vlp.data.padding import pad_regions, pad_texts
from vlp.data.tokenizer import WordPieceTokenizer


class VQACollate:
    """Builds `VQABatch`es: Oscar's `[CLS] question [SEP] tags [SEP]` text, padded regions and soft targets.

    Args:
        tokenizer: the word-piece tokenizer.
        num_answers: C, the size of the answer vocabulary.
        max_tokens: the text budget, special tokens included (Oscar's VQA: 128); a pair too long loses pieces from the
            end of its longer part first.
        tags: put the region tags after the question (Oscar); without them, `[CLS] question [SEP]` (UNITER).
    """

    def __init__(
        self, tokenizer: WordPieceTokenizer, num_answers: int, max_tokens: int = 128, tags: bool = True
    ) -> None:
        self.tokenizer, self.num_answers, self.max_tokens, self.tags = tokenizer, num_answers, max_tokens, tags

    def targets(self, items: Sequence[VQAItem]) -> torch.Tensor | None:
        """Float[B, C] soft targets, zero for answers no human gave; None unless every item has a target."""
        if any(item.target is None for item in items):
            return None
        targets = torch.zeros(len(items), self.num_answers)
        for row, item in enumerate(items):
            assert item.target is not None
            targets[row, list(item.target.indices)] = torch.tensor(item.target.scores)
        return targets

    def __call__(self, items: Sequence[VQAItem]) -> VQABatch:
        encoded = [
            self.tokenizer.encode_pair(item.words, item.tag_words if self.tags else None, self.max_tokens)
            for item in items
        ]
        return VQABatch(
            text=pad_texts(encoded, self.tokenizer.pad_id),
            regions=pad_regions(items),
            targets=self.targets(items),
            index=torch.tensor([item.index for item in items], dtype=torch.long),
            question_ids=torch.tensor([item.question_id for item in items], dtype=torch.long),
            answers=[item.answers for item in items],
            answer_types=[item.answer_type for item in items],
        )
