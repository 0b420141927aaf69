"""The corruption each objective needs, checked on built batches: pollution, matching pairs, masking, padding."""

from __future__ import annotations

import pytest
import torch

from tests.data.conftest import bert_vocab
from vlp.data import CocoCaptionsCorpus, Corruption, PretrainCollate, PretrainDataset, VqaCorpus, WordPieceTokenizer
from vlp.objectives.oscar_contrastive import CAPTION_REPLACED, MATCHED, TAGS_REPLACED
from vlp.objectives.output import IGNORE_INDEX


@pytest.fixture(scope="module")
def tokenizer() -> WordPieceTokenizer:
    return WordPieceTokenizer(bert_vocab())


@pytest.fixture(scope="module")
def dataset(demo_data) -> PretrainDataset:
    world = demo_data.world
    return PretrainDataset(
        [
            CocoCaptionsCorpus(world.captions["train"], demo_data.store, world.scene_graphs["train"]),
            VqaCorpus(world.vqa_questions["train"], world.vqa_annotations["train"], demo_data.store),
        ]
    )


def build(dataset, tokenizer, indices, **corruption):
    collate = PretrainCollate(dataset, tokenizer, Corruption(**corruption), max_tokens=40, fixed=True)
    return collate([dataset[i] for i in indices])


def segments(batch_text, row):
    """The ids of text a and text b of one row, without special tokens."""
    ids, types, mask = batch_text.input_ids[row], batch_text.token_type_ids[row], batch_text.text_mask[row]
    real = ids[mask][1:]
    types = types[mask][1:]
    return real[types == 0][:-1].tolist(), real[types == 1][:-1].tolist()


def encode(tokenizer, words_a, words_b):
    pair = tokenizer.encode_pair(words_a, words_b, 40)
    ids, types = torch.tensor(pair.input_ids)[1:], torch.tensor(pair.token_type_ids)[1:]
    return ids[types == 0][:-1].tolist(), ids[types == 1][:-1].tolist()


INDICES = [*range(0, 120, 3), -1, -2, -3]


def test_pollution_labels_say_what_was_replaced(dataset, tokenizer):
    indices = [i % len(dataset) for i in INDICES]
    batch = build(dataset, tokenizer, indices, mask_probability=0.0, contrastive_classes=3, pollute_probability=0.75)
    labels = batch.contrastive_labels.tolist()
    assert {MATCHED, TAGS_REPLACED, CAPTION_REPLACED} <= set(labels)
    for row, index in enumerate(indices):
        item = dataset[index]
        own_a, own_b = encode(tokenizer, item.words, item.words_b if item.words_b is not None else item.tag_words)
        text_a, text_b = segments(batch.text, row)
        if labels[row] == MATCHED:
            assert (text_a, text_b) == (own_a, own_b)
        elif labels[row] == TAGS_REPLACED:
            assert text_a == own_a[: len(text_a)]
            donors = [j for j in range(len(dataset)) if dataset.image_id(j) != item.image_id]
            assert any(text_b == encode(tokenizer, ["x"], dataset.second_words(j))[1][: len(text_b)] for j in donors)
        else:
            assert text_b == own_b[: len(text_b)] and text_a != own_a[: len(text_a)]


def test_polluted_tags_are_not_masked_without_mask_loss_for_unmatched(dataset, tokenizer):
    batch = build(
        dataset, tokenizer, range(40), mask_probability=0.5, contrastive_classes=2, mask_loss_for_unmatched=False
    )
    polluted_tags = (batch.contrastive_labels == TAGS_REPLACED)[:, None] & (batch.text.token_type_ids == 1)
    assert polluted_tags.any() and not (batch.mlm_labels[polluted_tags] != IGNORE_INDEX).any()
    assert (batch.mlm_labels[batch.text.token_type_ids == 1] != IGNORE_INDEX).any()


def test_token_masking_labels_the_originals_and_spares_special_tokens(dataset, tokenizer):
    masked = build(dataset, tokenizer, range(60), mask_probability=0.3, contrastive_classes=2)
    clean = build(dataset, tokenizer, range(60), mask_probability=0.0, contrastive_classes=2)
    assert torch.equal(masked.contrastive_labels, clean.contrastive_labels)
    assert torch.equal(masked.unmasked_input_ids(), clean.text.input_ids)
    labelled = masked.mlm_labels != IGNORE_INDEX
    special = torch.isin(clean.text.input_ids, torch.tensor(tokenizer.special_ids))
    assert labelled.any() and not (labelled & (special | ~clean.text.text_mask)).any()
    assert torch.equal(masked.text.input_ids[~labelled], clean.text.input_ids[~labelled])
    share_mask_token = (masked.text.input_ids[labelled] == tokenizer.mask_id).float().mean()
    assert 0.6 < share_mask_token < 0.95


def test_matching_labels_follow_the_swapped_images_and_tags_move_with_them(dataset, tokenizer):
    indices = [*range(40), len(dataset) - 1]
    batch = build(dataset, tokenizer, indices, matching=True, negative_probability=0.6)
    view = batch.matching
    partners = view.image_index.tolist()
    assert (view.labels == 0).any() and (view.labels == 1).any()
    for row, partner in enumerate(partners):
        item, image = dataset[indices[row]], dataset[indices[partner]]
        assert view.labels[row] == int(item.image_id == image.image_id)
        second = item.words_b if item.words_b is not None else image.tag_words
        assert segments(view.text, row) == encode(tokenizer, item.words, second)
    # The matching view's texts are neither masked nor polluted.
    assert not (view.text.input_ids == tokenizer.mask_id).any()


def test_conditional_masking_masks_one_modality_per_example(dataset, tokenizer):
    batch = build(
        dataset, tokenizer, range(40), mask_probability=0.3, region_mask_probability=0.3, conditional_masking=True
    )
    text_masked = (batch.mlm_labels != IGNORE_INDEX).any(dim=1)
    regions_masked = batch.masked_regions.any(dim=1)
    assert text_masked.any() and regions_masked.any() and not (text_masked & regions_masked).any()
    assert not (batch.masked_regions & ~batch.regions.mask).any()


def test_structural_masking_uses_the_scene_graphs(dataset, tokenizer):
    batch = build(dataset, tokenizer, range(40), region_mask_probability=0.15, structural_masking=True)
    assert batch.masked_regions.any()
    labelled = batch.mlm_labels != IGNORE_INDEX
    assert not (labelled & (batch.text.token_type_ids == 1)).any()  # SKM masks caption nodes, never tags
    again = build(dataset, tokenizer, range(40), region_mask_probability=0.15, structural_masking=True)
    assert torch.equal(again.mlm_labels, batch.mlm_labels) and torch.equal(again.masked_regions, batch.masked_regions)


def test_padding_and_ids(dataset, tokenizer):
    batch = build(dataset, tokenizer, [0, len(dataset) - 1])
    regions = batch.regions
    assert regions.features.dtype == torch.float32 and regions.features.shape[:2] == regions.mask.shape
    assert torch.equal(regions.labels == IGNORE_INDEX, ~regions.mask)
    assert batch.image_ids == [dataset.image_id(0), dataset.image_id(len(dataset) - 1)]
    assert batch.index.tolist() == [0, len(dataset) - 1] and batch.contrastive_labels is None and batch.matching is None
