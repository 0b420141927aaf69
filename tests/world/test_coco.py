"""COCO instances and captions: the official layout, loadable by pycocotools, and true to the images."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from tests.world.reference import COLOURS, SHAPES, SIZES, LoadedWorld, iou
from vlp.world import SPLITS


def test_instances_have_the_official_keys(world: LoadedWorld) -> None:
    for content in world.instances.values():
        assert {"info", "licenses", "images", "annotations", "categories", "attribute_names"} <= set(content)
        for image in content["images"]:
            assert {"id", "file_name", "width", "height"} <= set(image)
            assert image["file_name"] == f"COCO_synth_{image['id']:012d}.png"
        for ann in content["annotations"]:
            keys = {"id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation", "attributes"}
            assert keys <= set(ann)
            assert ann["iscrowd"] == 0
            assert set(ann["attributes"]) <= set(content["attribute_names"])
        assert [c["name"] for c in content["categories"]] == list(SHAPES)


# pycocotools' mask decoding predates numpy 2's `copy` keyword; its warning is not ours to fix.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_pycocotools_loads_instances_and_captions(world: LoadedWorld) -> None:
    for split in SPLITS:
        instances, captions = COCO(str(world.files.instances[split])), COCO(str(world.files.captions[split]))
        image_ids = instances.getImgIds()
        assert len(image_ids) == world.files.num_images[split]
        assert sorted(captions.getImgIds()) == sorted(image_ids)
        for image_id in image_ids[:3]:
            objects = instances.loadAnns(instances.getAnnIds(imgIds=[image_id]))
            assert 2 <= len(objects) <= 5
            assert len(instances.loadCats([o["category_id"] for o in objects])) == len(objects)
            assert len(captions.loadAnns(captions.getAnnIds(imgIds=[image_id]))) >= 5
            # The segmentation polygon rasterises to about its stated area (small shapes lose their edges).
            for obj in objects:
                assert abs(instances.annToMask(obj).sum() - obj["area"]) <= 0.35 * obj["area"] + 4


def test_ids_are_unique_across_splits(world: LoadedWorld) -> None:
    for kind, key in (("instances", "images"), ("instances", "annotations"), ("captions", "annotations")):
        ids = [item["id"] for item in world.all_of(kind, key)]
        assert len(ids) == len(set(ids)), (kind, key)


def test_every_image_has_two_to_five_objects(world: LoadedWorld) -> None:
    counts = {len(objects) for objects in world.objects.values()}
    assert counts == {2, 3, 4, 5}


def test_boxes_are_disjoint_and_inside_the_image(world: LoadedWorld) -> None:
    for image_id, objects in world.objects.items():
        side = world.image_side[image_id]
        for obj in objects:
            x, y, w, h = obj.bbox
            assert min(x, y) >= 0 and max(x + w, y + h) <= side and min(w, h) > 0
        for a, b in itertools.combinations(objects, 2):
            assert iou(a.bbox, b.bbox) == 0.0, (a, b)


def test_segmentation_spans_its_box(world: LoadedWorld) -> None:
    for ann in world.all_of("instances", "annotations"):
        (polygon,) = ann["segmentation"]
        xs, ys = polygon[0::2], polygon[1::2]
        x, y, w, h = ann["bbox"]
        assert np.allclose([min(xs), min(ys), max(xs), max(ys)], [x, y, x + w, y + h], atol=0.01)


def test_every_shape_colour_and_size_is_used(world: LoadedWorld) -> None:
    objects = [obj for image in world.objects.values() for obj in image]
    assert {obj.shape for obj in objects} == set(SHAPES)
    assert {obj.colour for obj in objects} == set(COLOURS)
    assert {obj.size for obj in objects} == set(SIZES)


def test_sizes_are_told_apart_by_box_area(world: LoadedWorld) -> None:
    areas = defaultdict(list)
    for obj in (obj for image in world.objects.values() for obj in image):
        areas[obj.size].append(obj.bbox[2] * obj.bbox[3])
    assert max(areas["small"]) * 1.5 < min(areas["large"])


def test_pixels_show_the_annotated_colours(world: LoadedWorld) -> None:
    """The centre of every object's box (inside every shape) has its colour: nearest to that colour's mean, and a
    colour is not a constant (objects of one colour vary a little)."""
    centres, names = [], []
    for image in world.all_of("instances", "images"):
        pixels = np.asarray(Image.open(world.files.image_dir / image["file_name"]), dtype=np.float64)
        for obj in world.objects[image["id"]]:
            x, y, w, h = obj.bbox
            cx, cy = round(x + w / 2), round(y + h / 2)
            centres.append(pixels[cy - 1 : cy + 2, cx - 1 : cx + 2].reshape(-1, 3).mean(axis=0))
            names.append(obj.colour)
    centres_array, names_array = np.stack(centres), np.array(names)
    means = np.stack([centres_array[names_array == colour].mean(axis=0) for colour in COLOURS])
    nearest = np.linalg.norm(centres_array[:, None] - means[None], axis=2).argmin(axis=1)
    assert (np.array(COLOURS)[nearest] == names_array).all()
    assert centres_array[names_array == "red"].std(axis=0).max() > 1.0


def test_every_image_has_at_least_five_distinct_captions(world: LoadedWorld) -> None:
    for content in world.captions.values():
        assert {"info", "licenses", "images", "annotations"} <= set(content)
        by_image = defaultdict(list)
        for ann in content["annotations"]:
            assert set(ann) == {"id", "image_id", "caption"}
            by_image[ann["image_id"]].append(ann["caption"])
        assert set(by_image) == {image["id"] for image in content["images"]}
        assert all(len(set(captions)) >= 5 for captions in by_image.values())
