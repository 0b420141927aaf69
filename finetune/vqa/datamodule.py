"""`VQADataModule`: VQA v2 question files, region stores, tokenizer, answer vocabulary, batching and workers.

```yaml
data:
  class_path: finetune.vqa.VQADataModule
  init_args:
    train: [{questions: vqa/v2_OpenEnded_mscoco_train2014_questions.json,
             annotations: vqa/v2_mscoco_train2014_annotations.json, store: features/coco}]
    val: [{questions: ..., annotations: ..., store: features/coco}]
    predict: [{questions: vqa/v2_OpenEnded_mscoco_test-dev2015_questions.json, store: features/coco_test}]
    vocab: pretrained/vocab.txt
    loader: {batch_size: 32, eval_batch_size: 256, num_workers: 4}
```
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lightning.pytorch import LightningDataModule
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader

from finetune.vqa.answers import DEFAULT_MIN_COUNT, AnswerVocabulary, TargetScoring, answer_log_odds
from finetune.vqa.collate import VQACollate
from finetune.vqa.data import answer_vocabulary, read_examples
from finetune.vqa.dataset import VQADataset, VQASource
from vlp.data.coverage import report_coverage
from vlp.data.loaders import LoaderSettings, eval_loader, train_loader
from vlp.data.regions import RegionReader
from vlp.data.tokenizer import WordPieceTokenizer, vocab_file
from vlp.store.geometry import GeometryStyle

ANSWERS_NAME = "answers.json"


class VQADataModule(LightningDataModule):
    """VQA finetuning data: questions with soft targets over an answer vocabulary built from the training answers.

    Args:
        train: the training sources (VQA v2 train, optionally val and Visual Genome QA), mixed into one dataset.
        val: the validation sources, scored with the official accuracy; none skips validation.
        predict: the sources `vlp predict` answers, usually test-dev or test-std (questions only).
        vocab: a BERT `vocab.txt`, or a folder holding one (the pretrained model's).
        answers: the answer vocabulary, a json list (`finetune.vqa.answers.AnswerVocabulary.save`); `prepare_data`
            builds it from the training answers when the file does not exist. Default: `answers.json` in the
            trainer's `default_root_dir`, next to the run, so that later `validate` and `predict` runs reuse it.
        min_answer_count: how many training questions must have an answer as their main answer for it to be a class
            (9 gives the usual 3,129 on VQA v2 train+val).
        scoring: soft target scores, "leave_one_out" (official accuracy) or "table" (BUTD's 0/0.3/0.6/0.9/1).
        max_tokens: the text budget, `[CLS] question [SEP] tags [SEP]` included (Oscar's VQA: 128).
        max_regions: the region budget per image (Oscar: 50).
        tags: put each image's region tags after the question (Oscar); False for models without tags (UNITER).
        tag_attributes: lead each tag with its region's attribute names ("green small star"), for stores extracted
            with an attribute head; every store must hold attributes.
        geometry: box geometry style; must match the model's `region_style`.
        shuffle_region_features: the control run: every image shows the regions and tags of another image of its
            split, by a fixed permutation (`vlp.data.regions.image_permutation`), in training and evaluation.
        shuffle_seed: the seed of that permutation.
        loader: batch sizes, workers, length bucketing and pinning (`vlp.data.LoaderSettings`).
    """

    def __init__(
        self,
        train: Sequence[VQASource],
        val: Sequence[VQASource] = (),
        predict: Sequence[VQASource] = (),
        vocab: str = "vocab.txt",
        answers: str | None = None,
        min_answer_count: int = DEFAULT_MIN_COUNT,
        scoring: TargetScoring = "leave_one_out",
        max_tokens: int = 128,
        max_regions: int = 50,
        tags: bool = True,
        tag_attributes: bool = False,
        geometry: GeometryStyle = "oscar",
        shuffle_region_features: bool = False,
        shuffle_seed: int = 0,
        loader: LoaderSettings | None = None,
    ) -> None:
        super().__init__()
        self.train_sources, self.val_sources, self.predict_sources = list(train), list(val), list(predict)
        self.vocab, self.answers = vocab, answers
        self.min_answer_count, self.scoring = min_answer_count, scoring
        self.max_tokens, self.max_regions, self.tags, self.geometry = max_tokens, max_regions, tags, geometry
        self.tag_attributes = tag_attributes
        self.shuffle_seed = shuffle_seed if shuffle_region_features else None
        self.loader = loader or LoaderSettings()
        self.tokenizer: WordPieceTokenizer | None = None
        self.vocabulary: AnswerVocabulary | None = None
        self.datasets: dict[str, VQADataset] = {}

    @property
    def answers_path(self) -> Path:
        """Where the answer vocabulary is read from (and written to when it does not exist)."""
        if self.answers is not None:
            return Path(self.answers)
        if self.trainer is None:
            raise ValueError("give `answers` (a path), or attach the data module to a trainer to keep it in its run")
        return Path(self.trainer.default_root_dir) / ANSWERS_NAME

    def prepare_data(self) -> None:
        """Builds the answer vocabulary from the training answers when its file does not exist yet (once, on the
        first process of each node)."""
        path = self.answers_path
        if path.is_file():
            return
        examples = [example for source in self.train_sources for example in read_examples(source.files)]
        vocabulary = answer_vocabulary(examples, self.min_answer_count)
        if not vocabulary.answers:
            raise ValueError(f"no training answer occurs {self.min_answer_count} times: lower min_answer_count")
        vocabulary.save(path)
        rank_zero_info(f"answer vocabulary: {len(vocabulary)} answers given >= {self.min_answer_count} times -> {path}")

    def answer_log_odds(self) -> list[float]:
        """[C] the log-odds of each answer's mean soft target over the training questions (see
        `finetune.vqa.answers.answer_log_odds`); needs `setup("fit")`."""
        if "train" not in self.datasets or self.vocabulary is None:
            raise ValueError("the answer priors come from the training questions: call setup('fit') first")
        dataset = self.datasets["train"]
        return answer_log_odds((dataset.example(i).target for i in range(len(dataset))), len(self.vocabulary))

    def _dataset(self, sources: Sequence[VQASource]) -> VQADataset:
        return VQADataset(
            sources,
            self.vocabulary,
            self.scoring,
            self.max_regions,
            self.geometry,
            self.shuffle_seed,
            self.tag_attributes,
        )

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is None:
            self.tokenizer = WordPieceTokenizer(vocab_file(self.vocab))
        if self.vocabulary is None:
            self.vocabulary = AnswerVocabulary.load(self.answers_path)
        wanted = {
            "train": stage in (None, "fit"),
            "val": stage in (None, "fit", "validate") and bool(self.val_sources),
            "predict": stage in (None, "predict") and bool(self.predict_sources),
        }
        sources = {"train": self.train_sources, "val": self.val_sources, "predict": self.predict_sources}
        for split, needed in wanted.items():
            if needed and split not in self.datasets:
                self.datasets[split] = self._dataset(sources[split])
                if self.trainer is None or self.trainer.is_global_zero:
                    report_coverage(self.tokenizer, self.datasets[split].texts(), f"{split} questions and tags")

    def region_readers(self) -> list[RegionReader]:
        """The region reader of each dataset set up so far."""
        return [dataset.regions for dataset in self.datasets.values()]

    def _collate(self) -> VQACollate:
        assert self.tokenizer is not None and self.vocabulary is not None
        return VQACollate(self.tokenizer, len(self.vocabulary), self.max_tokens, self.tags)

    def train_dataloader(self) -> DataLoader:
        dataset = self.datasets["train"]
        return train_loader(dataset, self._collate(), self.loader, lambda: dataset.lengths().tolist(), self.trainer)

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        if "val" not in self.datasets:
            return []
        return eval_loader(self.datasets["val"], self._collate(), self.loader, self.trainer)

    def predict_dataloader(self) -> DataLoader:
        if "predict" not in self.datasets:
            raise ValueError("no predict sources: set data.predict (e.g. the test-dev questions and their store)")
        # Lightning shares prediction out without repeats by itself.
        return eval_loader(self.datasets["predict"], self._collate(), self.loader, self.trainer, unrepeated=False)
