"""What the VQA finetuning tests share: a world with a region store seen as VQA sources, and a tiny model config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from finetune.vqa import AnswerVocabulary, VQADataModule, VQASource
from finetune.vqa.data import answer_vocabulary, read_examples
from tests.data.conftest import FEATURE_DIM, DemoData
from vlp.data import LoaderSettings
from vlp.model import VLConfig


@dataclass(frozen=True)
class VQAData:
    """The pretraining tests' world and store (40 images, 32-d features), seen as VQA sources."""

    data: DemoData
    answers: Path

    def source(self, split: str, annotated: bool = True) -> VQASource:
        world = self.data.world
        annotations = str(world.vqa_annotations[split]) if annotated else None
        return VQASource(str(world.vqa_questions[split]), str(self.data.store), annotations)

    def datamodule(self, **options: object) -> VQADataModule:
        """A data module over train (and val as validation and prediction questions), set up for every stage."""
        arguments: dict[str, object] = {
            "train": [self.source("train")],
            "val": [self.source("val")],
            "predict": [self.source("val", annotated=False)],
            "vocab": str(self.data.vocab),
            "answers": str(self.answers),
            "loader": LoaderSettings(batch_size=8, num_workers=0),
            "max_tokens": 40,
        }
        datamodule = VQADataModule(**(arguments | options))  # type: ignore[arg-type]
        datamodule.setup()
        return datamodule

    @property
    def vocabulary(self) -> AnswerVocabulary:
        return AnswerVocabulary.load(self.answers)


@pytest.fixture(scope="session")
def vqa_data(demo_data: DemoData, tmp_path_factory: pytest.TempPathFactory) -> VQAData:
    answers = tmp_path_factory.mktemp("vqa_answers") / "answers.json"
    examples = read_examples(VQAData(demo_data, answers).source("train").files)
    answer_vocabulary(examples, min_count=1).save(answers)
    return VQAData(demo_data, answers)


def tiny_config(**changes: object) -> VLConfig:
    """A one-layer model over the BERT vocabulary and the test store's features."""
    values: dict[str, object] = {
        "hidden_size": 32,
        "num_layers": 1,
        "num_heads": 2,
        "intermediate_size": 32,
        "max_position_embeddings": 64,
        "region_feature_dim": FEATURE_DIM,
        "hidden_dropout": 0.0,
        "attention_dropout": 0.0,
    }
    return VLConfig(**(values | changes))  # type: ignore[arg-type]
