"""VQA batches: Oscar's `[CLS] question [SEP] tags [SEP]` text, padded regions, dense soft targets."""

from __future__ import annotations

import torch

from finetune.vqa import VQACollate, VQADataset
from tests.finetune.vqa_setup import VQAData
from vlp.data.tokenizer import WordPieceTokenizer


def test_batch_layout_and_targets(vqa_data: VQAData) -> None:
    vocabulary = vqa_data.vocabulary
    dataset = VQADataset([vqa_data.source("train")], vocabulary)
    tokenizer = WordPieceTokenizer(vqa_data.data.vocab)
    items = [dataset[i] for i in range(5)]
    batch = VQACollate(tokenizer, len(vocabulary), max_tokens=40)(items)

    assert batch.size == 5 and batch.annotated
    assert batch.question_ids.tolist() == [item.question_id for item in items]
    assert batch.index.tolist() == list(range(5))
    for row, item in enumerate(items):
        expected = tokenizer.encode_pair(item.words, item.tag_words, 40)
        length = len(expected.input_ids)
        assert batch.text.input_ids[row, :length].tolist() == expected.input_ids
        assert batch.text.token_type_ids[row, :length].tolist() == expected.token_type_ids
        assert batch.text.text_mask[row].sum() == length
        regions = item.features.shape[0]
        assert torch.equal(batch.regions.features[row, :regions], torch.from_numpy(item.features))
        assert batch.regions.mask[row].sum() == regions
        assert item.target is not None
        dense = torch.zeros(len(vocabulary))
        dense[list(item.target.indices)] = torch.tensor(item.target.scores)
        assert torch.equal(batch.targets[row], dense)  # type: ignore[index]


def test_questions_only_and_without_tags(vqa_data: VQAData) -> None:
    dataset = VQADataset([vqa_data.source("val", annotated=False)], vqa_data.vocabulary)
    tokenizer = WordPieceTokenizer(vqa_data.data.vocab)
    batch = VQACollate(tokenizer, len(vqa_data.vocabulary), tags=False)([dataset[0], dataset[1]])
    assert batch.targets is None and not batch.annotated
    # `[CLS] question [SEP]` only: a single segment.
    assert not batch.text.token_type_ids.any()
    assert batch.text.input_ids[0, batch.text.text_mask[0].sum() - 1] == tokenizer.sep_id
