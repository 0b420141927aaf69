"""The typed VQA batch that `VQACollate` builds and `VQAModule` consumes.

Shapes: B questions, T tokens (the longest `[CLS] question [SEP] tags [SEP]` of the batch), R regions (the most regions
of the batch), D feature width, G geometry width, C answer classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vlp.model.inputs import Pinnable, RegionInputs, TextInputs


@dataclass
class VQABatch(Pinnable):
    """One batch of VQA questions with their images.

    Attributes:
        text: `[CLS] question [SEP] tags [SEP]` (or `[CLS] question [SEP]` without tags), [B, T].
        regions: the regions of each question's image, [B, R, D] features and [B, R, G] geometry.
        targets: Float[B, C] soft target scores; None for questions without annotations (test-dev, test-std).
        index: Long[B] dataset index of each question.
        question_ids: Long[B] official question ids.
        answers: [B] the human answers of each question (empty tuples without annotations).
        answer_types: [B] each question's answer type (None without annotations).
    """

    text: TextInputs
    regions: RegionInputs
    targets: torch.Tensor | None
    index: torch.Tensor
    question_ids: torch.Tensor
    answers: list[tuple[str, ...]]
    answer_types: list[str | None]

    @property
    def size(self) -> int:
        """B."""
        return int(self.index.shape[0])

    @property
    def annotated(self) -> bool:
        """Whether every question has its human answers and answer type (so the official accuracy applies)."""
        return all(self.answers) and all(kind is not None for kind in self.answer_types)
