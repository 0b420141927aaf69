"""`VQAAccuracy`: the official VQA accuracy as a torchmetrics metric, overall and per answer and question type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from vlp.metrics.vqa_accuracy import vqa_accuracy

VQA_ANSWER_TYPES = ("yes/no", "number", "other")


def _type_index(kind: str, types: Sequence[str]) -> dict[str, int]:
    index = {name: i for i, name in enumerate(types)}
    if len(index) != len(types):
        raise ValueError(f"{kind} types must be distinct, got {list(types)}")
    return index


class VQAAccuracy(Metric):
    """The official VQA accuracy (in percent) over all questions seen, and per answer type and question type.

    Each question is scored by `vlp.metrics.vqa_accuracy.vqa_accuracy`, normalisation rules included. States are sums
    (per type, as fixed-size tensors indexed by the type vocabularies given here), so synchronising across processes
    adds them up and a distributed run gives the numbers of a single process over the same questions. The VQA module
    logs `compute()["overall"]` as `val/vqa_acc`.

    Args:
        answer_types: the answer types questions may have; the official VQA v2 ones by default.
        question_types: the question types to report on ("what color is the", ...); none by default. When given,
            `update` needs every question's type.
        **kwargs: passed to `torchmetrics.Metric`.

    Raises:
        ValueError: if a type vocabulary repeats a name.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    answer_type_score_sum: Tensor
    answer_type_count: Tensor
    question_type_score_sum: Tensor
    question_type_count: Tensor

    def __init__(
        self, answer_types: Sequence[str] = VQA_ANSWER_TYPES, question_types: Sequence[str] = (), **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.answer_types = tuple(answer_types)
        self.question_types = tuple(question_types)
        self._answer_type_index = _type_index("answer", self.answer_types)
        self._question_type_index = _type_index("question", self.question_types)
        # float64: sums of many thirds must stay exact enough to round to two decimals like the official evaluation.
        for kind, size in (("answer_type", len(self.answer_types)), ("question_type", len(self.question_types))):
            self.add_state(f"{kind}_score_sum", torch.zeros(size, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{kind}_count", torch.zeros(size, dtype=torch.long), dist_reduce_fx="sum")

    def update(
        self,
        predictions: Sequence[str],
        human_answers: Sequence[Sequence[str]],
        answer_types: Sequence[str],
        question_types: Sequence[str] | None = None,
    ) -> None:
        """Scores a batch of predicted answers.

        Args:
            predictions: [B] predicted answers.
            human_answers: [B] the human answers of each question, as in the annotations file (usually ten).
            answer_types: [B] each question's answer type, one of `self.answer_types`.
            question_types: [B] each question's type, one of `self.question_types`; needed exactly when the metric
                was built with question types.

        Raises:
            ValueError: if the lengths differ, a type is not in its vocabulary, or question types are missing or
                unexpected.
        """
        if (question_types is None) != (not self.question_types):
            raise ValueError(
                "pass question_types to update exactly when VQAAccuracy was built with question types "
                f"(built with {len(self.question_types)})"
            )
        lengths = {len(predictions), len(human_answers), len(answer_types)}
        if question_types is not None:
            lengths.add(len(question_types))
        if len(lengths) != 1:
            raise ValueError(f"predictions, human answers and types of one batch must have one length, got {lengths}")
        device = self.answer_type_score_sum.device
        scores = torch.tensor(
            [vqa_accuracy(p, answers) for p, answers in zip(predictions, human_answers, strict=True)],
            dtype=torch.float64,
            device=device,
        )
        self._accumulate("answer", self._answer_type_index, answer_types, scores)
        if question_types is not None:
            self._accumulate("question", self._question_type_index, question_types, scores)

    def _accumulate(self, kind: str, index: dict[str, int], types: Sequence[str], scores: Tensor) -> None:
        unknown = sorted({name for name in types if name not in index})
        if unknown:
            raise ValueError(f"{kind} types {unknown} are not among those VQAAccuracy was built with: {list(index)}")
        positions = torch.tensor([index[name] for name in types], dtype=torch.long, device=scores.device)
        getattr(self, f"{kind}_type_score_sum").index_add_(0, positions, scores)
        getattr(self, f"{kind}_type_count").index_add_(0, positions, torch.ones_like(positions))

    def compute(self) -> dict[str, Tensor]:
        """The accuracies in percent, unrounded: `overall`, `answer_type/<type>` and `question_type/<type>`.

        Types that no question had are left out; `overall` is NaN before any update.
        """
        result = {"overall": 100 * self.answer_type_score_sum.sum() / self.answer_type_count.sum()}
        for kind, names in (("answer_type", self.answer_types), ("question_type", self.question_types)):
            sums, counts = getattr(self, f"{kind}_score_sum"), getattr(self, f"{kind}_count")
            result |= {f"{kind}/{name}": 100 * sums[i] / counts[i] for i, name in enumerate(names) if counts[i] > 0}
        return result
