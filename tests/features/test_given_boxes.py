"""The given-boxes backend against an independent computation: the backbone run layer by layer, torchvision's
`roi_align` on its output, boxes scaled by hand."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torchvision
from torch.nn import functional as F
from torchvision.ops import roi_align

from features.backends.base import ImageRecord
from features.backends.given_boxes import IMAGENET_MEAN, IMAGENET_STD, GivenBoxesBackend
from tests.features.images import pattern, write_coco

BOXES = {
    1: [(4, 6, 20, 18, "cat", ["black", "small"]), (30, 10, 40, 30, "dog", ["brown"])],
    2: [(0, 0, 10, 10, "cat", [])],
}


@pytest.fixture(scope="module")
def annotations(tmp_path_factory):
    images = [(1, "one.png", 48, 80), (2, "two.png", 60, 60), (3, "three.png", 48, 80)]
    return write_coco(tmp_path_factory.mktemp("coco") / "instances.json", images, BOXES)


@pytest.fixture(scope="module")
def backend(annotations, resnet18_weights):
    return make(annotations, resnet18_weights)


def make(annotations, weights, **settings) -> GivenBoxesBackend:
    defaults = {"backbone": "resnet18", "min_size": 64, "max_size": 200}
    return GivenBoxesBackend(str(annotations), weights=str(weights) if weights else None, **{**defaults, **settings})


def reference_features(weights, pixels: np.ndarray, boxes: np.ndarray, min_size: int, max_size: int) -> np.ndarray:
    """ResNet-18 layer4 features averaged over a 7x7 RoIAlign grid, computed step by step."""
    model = torchvision.models.resnet18(weights=None)
    model.load_state_dict(torch.load(weights, weights_only=True))
    model.eval()
    height, width = pixels.shape[:2]
    ratio = min(min_size / min(height, width), max_size / max(height, width))
    size = (round(height * ratio), round(width * ratio))
    image = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    image = (image - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)
    image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)
    with torch.no_grad():
        x = model.maxpool(model.relu(model.bn1(model.conv1(image))))
        x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
        scaled = torch.from_numpy(boxes) * torch.tensor([size[1] / width, size[0] / height] * 2)
        pooled = roi_align(x, [scaled], output_size=7, spatial_scale=1 / 32, sampling_ratio=2, aligned=True)
    return pooled.mean(dim=(2, 3)).numpy()


def test_features_are_roi_align_of_the_backbone_output(backend, resnet18_weights):
    pixels = pattern(48, 80)
    found = backend.detect([ImageRecord("1", "one.png", pixels)])[0]
    expected_boxes = np.array([[4, 6, 24, 24], [30, 10, 70, 40], [0, 0, 80, 48]], dtype=np.float32)
    np.testing.assert_array_equal(found.boxes, expected_boxes)
    reference = reference_features(resnet18_weights, pixels, expected_boxes, 64, 200)
    assert backend.feature_dim == 512 and found.features.shape == (3, 512)
    np.testing.assert_allclose(found.features, reference, rtol=1e-4, atol=1e-4)


def test_labels_attributes_and_the_whole_image_region(backend):
    found = backend.detect([ImageRecord("1", "one.png", pattern(48, 80))])[0]
    assert [backend.label_names[i] for i in found.labels] == ["cat", "dog", "image"]
    assert backend.max_attributes_per_region == 2
    names = [[backend.attribute_names[a] for a in row if a >= 0] for row in found.attributes]
    assert names == [["black", "small"], ["brown"], []]
    np.testing.assert_array_equal(found.attribute_scores, [[1, 1], [1, 0], [0, 0]])
    np.testing.assert_array_equal(found.scores, [1, 1, 1])


def test_an_image_without_boxes_still_gets_a_region(annotations, resnet18_weights):
    backend = make(annotations, resnet18_weights, whole_image=False)
    found = backend.detect([ImageRecord("3", "three.png", pattern(48, 80)), ImageRecord("1", "x", pattern(48, 80))])
    np.testing.assert_array_equal(found[0].boxes, [[0, 0, 80, 48]])
    assert [backend.label_names[i] for i in found[0].labels] == ["image"]
    assert len(found[1].boxes) == 2  # annotated images get only their boxes


def test_images_found_by_file_name_when_ids_are_paths(backend):
    found = backend.detect([ImageRecord("folder/two", "/data/folder/two.png", pattern(60, 60))])[0]
    np.testing.assert_array_equal(found.boxes, [[0, 0, 10, 10], [0, 0, 60, 60]])


def test_features_do_not_depend_on_batch_mates(backend):
    records = [ImageRecord("1", "a", pattern(48, 80, 1)), ImageRecord("2", "b", pattern(60, 60, 2))]
    records.append(ImageRecord("3", "c", pattern(48, 80, 3)))
    together = backend.detect(records)
    for record, joint in zip(records, together, strict=True):
        alone = backend.detect([record])[0]
        np.testing.assert_allclose(joint.features, alone.features, rtol=1e-5, atol=1e-5)


def test_downscaled_images_report_boxes_in_original_coordinates(backend):
    small = ImageRecord("1", "one.png", pattern(24, 40), original_size=(48, 80))
    found = backend.detect([small])[0]
    np.testing.assert_array_equal(found.boxes, [[4, 6, 24, 24], [30, 10, 70, 40], [0, 0, 80, 48]])


def test_random_weights_warn_loudly_and_are_seeded(annotations, backend, caplog):
    with caplog.at_level(logging.WARNING):
        first = make(annotations, None, seed=5)
    assert "RANDOM WEIGHTS" in caplog.text
    assert first.provenance()["weights"] == {"random_init_seed": 5}
    again = make(annotations, None, seed=5)
    for name, tensor in first.extractor.state_dict().items():  # the seed fixes every weight, in every process
        torch.testing.assert_close(again.extractor.state_dict()[name], tensor, rtol=0, atol=0)
    record = ImageRecord("1", "one.png", pattern(48, 80))
    assert not np.allclose(first.detect([record])[0].features, backend.detect([record])[0].features)


def test_provenance_names_files_by_content(backend):
    provenance = backend.provenance()
    assert provenance["weights"]["file"] == "resnet18.pth" and len(provenance["weights"]["sha256"]) == 64
    assert provenance["annotations"][0]["file"] == "instances.json"
    assert provenance["backbone"] == "resnet18" and provenance["feature_node"] == "layer4"


def test_bad_settings_are_explained(annotations, tmp_path, resnet18_weights):
    with pytest.raises(ValueError, match="missing keys"):
        make(annotations, resnet18_weights, backbone="resnet34")
    with pytest.raises(ValueError, match="top-level nodes"):
        make(annotations, resnet18_weights, feature_node="layer9")
    with pytest.raises(ValueError, match="COCO-style instances json"):
        make(tmp_path, resnet18_weights)
