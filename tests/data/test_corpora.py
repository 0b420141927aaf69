"""Corpora read the official files; the dataset joins them with their region stores."""

from __future__ import annotations

import json

import pytest

from vlp.data import CaptionJsonlCorpus, CocoCaptionsCorpus, PretrainDataset, VqaCorpus
from vlp.world import tokenize_caption


def test_coco_captions_with_graphs_and_karpathy_filter(demo_data):
    world = demo_data.world
    corpus = CocoCaptionsCorpus(world.captions["train"], demo_data.store, world.scene_graphs["train"])
    examples = corpus.read()
    assert len(examples) == world.num_captions["train"]
    assert all(e.text_b is None and e.graph is not None and e.graph["caption"] == e.text for e in examples)
    # Karpathy's file keeps only the images of the asked splits: none of the train file's images are in val.
    filtered = CocoCaptionsCorpus(world.captions["train"], demo_data.store, karpathy=world.karpathy, splits=["val"])
    assert filtered.read() == []


def test_vqa_pairs_put_the_answer_in_text_b(demo_data):
    world = demo_data.world
    examples = VqaCorpus(world.vqa_questions["train"], world.vqa_annotations["train"], demo_data.store).read()
    annotations = json.loads(world.vqa_annotations["train"].read_text())["annotations"]
    assert len(examples) == len(annotations) == world.num_questions["train"]
    assert [e.text_b for e in examples] == [a["multiple_choice_answer"] for a in annotations]


def test_jsonl_captions_and_a_clear_error_for_missing_fields(demo_data, tmp_path):
    path = tmp_path / "captions.jsonl"
    path.write_text('{"image_id": 5, "caption": "a red star"}\n\n{"caption": "no image"}\n')
    with pytest.raises(ValueError, match=r"captions.jsonl:3: no image_id"):
        CaptionJsonlCorpus(path, demo_data.store).read()
    path.write_text('{"image_id": 5, "caption": "a red star"}\n')
    assert CaptionJsonlCorpus(path, demo_data.store).read()[0].image_id == "5"


def test_dataset_items_and_missing_images(demo_data, tmp_path):
    world = demo_data.world
    dataset = PretrainDataset(
        [
            CocoCaptionsCorpus(world.captions["train"], demo_data.store),
            VqaCorpus(world.vqa_questions["train"], world.vqa_annotations["train"], demo_data.store),
        ],
        max_regions=2,
        geometry="uniter",
    )
    assert len(dataset) == world.num_captions["train"] + world.num_questions["train"]
    item = dataset[0]
    assert item.features.shape[0] == len(item.tags) <= 2 and item.geometry.shape[1] == 7
    assert item.words == tokenize_caption(dataset.example(0).text) and item.words_b is None
    assert [dataset.region_label_names[i] for i in item.labels] == item.tags
    question = dataset[len(dataset) - 1]
    assert question.words_b == tokenize_caption(dataset.example(len(dataset) - 1).text_b)
    assert dataset.lengths().shape == (len(dataset),)

    path = tmp_path / "unknown.jsonl"
    path.write_text('{"image_id": "nope", "caption": "a red star"}\n')
    with pytest.raises(KeyError, match="nope"):
        PretrainDataset([CaptionJsonlCorpus(path, demo_data.store)])


def test_attribute_tags_in_items_in_polluting_text_and_in_the_vocabulary_texts(demo_data):
    corpus = CocoCaptionsCorpus(demo_data.world.captions["train"], demo_data.store)
    plain = PretrainDataset([corpus], max_regions=3)
    with_attributes = PretrainDataset([corpus], max_regions=3, tag_attributes=True)
    for index in (0, 5, len(plain) - 1):
        item = with_attributes[index]
        expected = [word for name, attrs in zip(item.tags, item.attributes, strict=True) for word in (*attrs, name)]
        assert any(item.attributes) and item.tag_words == expected
        assert plain[index].tag_words == item.tags  # the world's names are one word each
        assert with_attributes.second_words(index) == expected
        assert plain.second_words(index) == item.tags
    texts = set(with_attributes.texts())
    assert {"green", "small"} <= texts and not {"green", "small"} & set(plain.region_label_names)
