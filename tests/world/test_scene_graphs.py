"""Gold scene graphs: spans point at the right words, objects at the right instances, and captions are true."""

from __future__ import annotations

from typing import Any

from tests.world.reference import (
    COLOUR_WORDS,
    GENERIC_NOUNS,
    NUMBER_WORDS,
    RELATION_PHRASES,
    SHAPE_WORDS,
    SIZE_WORDS,
    Instance,
    LoadedWorld,
    relation_holds,
)
from vlp.world import SPLITS, tokenize_caption


def _words(graph: dict[str, Any], span: list[int]) -> str:
    start, end = span
    assert 0 <= start < end <= len(graph["tokens"])
    return " ".join(graph["tokens"][start:end])


def test_graphs_cover_every_caption(world: LoadedWorld) -> None:
    for split in SPLITS:
        content = world.scene_graphs[split]
        assert content["tokenizer"] == "vlp.world.tokenize_caption"
        captions = {ann["id"]: ann for ann in world.captions[split]["annotations"]}
        graphs = {graph["caption_id"]: graph for graph in content["graphs"]}
        assert graphs.keys() == captions.keys()
        for caption_id, graph in graphs.items():
            assert {"caption_id", "image_id", "tokens", "objects", "attributes", "relations"} <= set(graph)
            assert graph["image_id"] == captions[caption_id]["image_id"]
            assert graph["tokens"] == tokenize_caption(captions[caption_id]["caption"])


def test_spans_point_at_the_named_words(world: LoadedWorld) -> None:
    for graph in world.all_of("scene_graphs", "graphs"):
        assert 1 <= len(graph["objects"]) <= 3
        assert [o["id"] for o in graph["objects"]] == list(range(len(graph["objects"])))
        for part in graph["objects"] + graph["attributes"]:
            assert _words(graph, part["span"]) == part["name"]
        for relation in graph["relations"]:
            assert _words(graph, relation["span"]) == relation["predicate"]


def test_objects_and_attributes_denote_their_instances(world: LoadedWorld) -> None:
    for graph in world.all_of("scene_graphs", "graphs"):
        instances = {obj.annotation_id: obj for obj in world.objects[graph["image_id"]]}
        for obj in graph["objects"]:
            instance = instances[obj["annotation_id"]]  # an instance of this very image
            assert obj["name"] in GENERIC_NOUNS or SHAPE_WORDS[obj["name"]] == instance.shape
            described = [a["name"] for a in graph["attributes"] if a["object"] == obj["id"]]
            assert described, f"{obj} has neither colour nor size in {graph['tokens']}"
            for word in described:
                assert COLOUR_WORDS.get(word) == instance.colour or SIZE_WORDS.get(word) == instance.size, word


def test_relations_hold_in_the_image(world: LoadedWorld) -> None:
    relations_seen = set()
    for graph in world.all_of("scene_graphs", "graphs"):
        instances = {obj.annotation_id: obj for obj in world.objects[graph["image_id"]]}
        denoted: dict[int, Instance] = {o["id"]: instances[o["annotation_id"]] for o in graph["objects"]}
        for relation in graph["relations"]:
            name = RELATION_PHRASES[relation["predicate"]]
            subject, obj = denoted[relation["subject"]], denoted[relation["object"]]
            assert relation_holds(name, subject, obj, world.image_side[graph["image_id"]]), graph["tokens"]
            relations_seen.add(name)
    assert relations_seen == set(RELATION_PHRASES.values())


def test_counted_captions_count_right(world: LoadedWorld) -> None:
    """ "three shapes: ..." states how many objects the image holds."""
    counted = 0
    for graph in world.all_of("scene_graphs", "graphs"):
        if graph["tokens"][1] in ("shapes", "objects"):
            assert NUMBER_WORDS.index(graph["tokens"][0]) == len(world.objects[graph["image_id"]])
            counted += 1
    assert counted > 0


def test_captions_vary(world: LoadedWorld) -> None:
    graphs = world.all_of("scene_graphs", "graphs")
    with_relation = sum(bool(graph["relations"]) for graph in graphs)
    assert 0.3 < with_relation / len(graphs) < 0.9
    first_words = {tuple(graph["tokens"][:2]) for graph in graphs}
    assert len(first_words) > 20
    names = {o["name"] for graph in graphs for o in graph["objects"]}
    assert {"disc", "plus sign", "object"} <= names
