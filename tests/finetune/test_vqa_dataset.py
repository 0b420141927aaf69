"""VQA items from the official files and the store; the shuffled-features control permutes images for real."""

from __future__ import annotations

import numpy as np
import pytest

from finetune.vqa import VQADataset, VQASource
from finetune.vqa.data import read_examples, with_targets
from tests.finetune.vqa_setup import VQAData
from vlp.data.regions import image_permutation
from vlp.store import RegionStore, RegionStoreWriter
from vlp.world import WorldFiles


def test_items_carry_the_question_its_regions_and_its_target(vqa_data: VQAData) -> None:
    source = vqa_data.source("train")
    dataset = VQADataset([source], vqa_data.vocabulary, "table", max_regions=3)
    examples = with_targets(read_examples(source.files), vqa_data.vocabulary, "table")
    store = RegionStore(source.store)
    assert len(dataset) == len(examples)
    for index in (0, 7, len(dataset) - 1):
        item, example = dataset[index], examples[index]
        entry = store[example.image_id]
        assert (item.question_id, item.words) == (example.question_id, example.question.split())
        assert (item.target, item.answers, item.answer_type) == (example.target, example.answers, example.answer_type)
        kept = min(entry.num_regions, 3)
        assert item.features.shape == (kept, store.feature_dim) and item.geometry.shape == (kept, 6)
        np.testing.assert_array_equal(item.features, entry.features[:kept].astype(np.float32))
        assert item.tags == [word for name in entry.label_names[:kept] for word in name.split()]


def test_questions_only_sources_have_no_targets(vqa_data: VQAData) -> None:
    dataset = VQADataset([vqa_data.source("test", annotated=False)], vqa_data.vocabulary)
    item = dataset[0]
    assert item.target is None and item.answers == () and item.answer_type is None


def test_permutation_is_one_cycle_through_every_image_and_depends_only_on_the_seed() -> None:
    images = [5, 17, 3, 3, 40, 8, 17]
    mapping = image_permutation(images, seed=1)
    assert set(mapping) == set(mapping.values()) == set(images)
    assert all(shown != image for image, shown in mapping.items())
    image, seen = 5, set()
    while image not in seen:  # a single cycle visits every image
        seen.add(image)
        image = mapping[image]
    assert seen == set(images)
    assert image_permutation(list(reversed(images)), seed=1) == mapping
    assert any(image_permutation(images, seed) != mapping for seed in range(2, 6))
    with pytest.raises(ValueError, match="at least two images"):
        image_permutation([4, 4], seed=0)


def test_shuffled_control_shows_another_images_regions(vqa_data: VQAData) -> None:
    source = vqa_data.source("train")
    real = VQADataset([source], vqa_data.vocabulary)
    shuffled = VQADataset([source], vqa_data.vocabulary, shuffle_seed=0)
    again = VQADataset([source], vqa_data.vocabulary, shuffle_seed=0)
    store = RegionStore(source.store)
    images = {real.example(i).image_id for i in range(len(real))}
    shown = {real.example(i).image_id: shuffled.shown_image(i) for i in range(len(real))}
    assert set(shown.values()) == images and all(image != other for image, other in shown.items())
    assert [again.shown_image(i) for i in range(len(real))] == [shuffled.shown_image(i) for i in range(len(real))]
    for index in range(0, len(real), 17):
        item, control = real[index], shuffled[index]
        entry = store[shuffled.shown_image(index)]
        assert (control.question_id, control.words, control.target) == (item.question_id, item.words, item.target)
        np.testing.assert_array_equal(control.features, entry.features.astype(np.float32))
        assert control.tags == [word for name in entry.label_names for word in name.split()]


def test_image_missing_from_the_store_is_named(vqa_data: VQAData, vqa_world: WorldFiles) -> None:
    other_world = VQASource(
        str(vqa_world.vqa_questions["train"]), str(vqa_data.data.store), str(vqa_world.vqa_annotations["train"])
    )
    with pytest.raises(KeyError, match="image ids are not in"):
        VQADataset([other_world], vqa_data.vocabulary)


def test_attribute_tags_lead_each_region_name_with_its_attributes(vqa_data: VQAData) -> None:
    source = vqa_data.source("train")
    dataset = VQADataset([source], vqa_data.vocabulary, max_regions=3, tag_attributes=True)
    store = RegionStore(source.store)
    assert store.has_attributes
    for index in (0, 7, len(dataset) - 1):
        entry = store[dataset.example(index).image_id]
        expected = []
        for name, attributes in zip(entry.label_names[:3], entry.attribute_names[:3], strict=True):
            expected += [*attributes, *name.split()]
        assert any(entry.attribute_names[:3])  # the world's regions have attributes: the check is not vacuous
        assert dataset[index].tag_words == expected


def test_attribute_tags_need_a_store_with_attributes(vqa_data: VQAData, tmp_path) -> None:
    bare = tmp_path / "bare.h5"
    original = RegionStore(vqa_data.source("train").store)
    with RegionStoreWriter(bare, original.feature_dim, provenance={"backend": "test"}) as writer:
        for image_id in original:
            entry = original[image_id]
            writer.add(image_id, entry.image_size, entry.features, entry.boxes, entry.scores, entry.label_names)
    source = vqa_data.source("train")
    without = VQASource(source.questions, str(bare), source.annotations)
    with pytest.raises(ValueError, match=f"tag_attributes is set but {bare} holds no region attributes"):
        VQADataset([without], vqa_data.vocabulary, tag_attributes=True)
