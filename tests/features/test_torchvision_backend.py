"""The torchvision backend against torchvision itself: the same model's detections, and its box head's features of
the kept boxes computed step by step in the test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from features.backends.base import ImageRecord
from features.backends.torchvision_backend import TorchvisionBackend
from tests.features.conftest import save_random_weights
from tests.features.images import pattern

MODEL = "fasterrcnn_mobilenet_v3_large_320_fpn"
SIZE = {"min_size": 128, "max_size": 128}  # smaller than the model's 320 to keep the test quick


@pytest.fixture(scope="module")
def backend(detector_weights) -> TorchvisionBackend:
    return TorchvisionBackend(MODEL, str(detector_weights), score_threshold=0.0, min_boxes=2, max_boxes=5, **SIZE)


@pytest.fixture(scope="module")
def reference(detector_weights) -> torch.nn.Module:
    model = torchvision.models.get_model(MODEL, weights=None, weights_backbone=None, num_classes=91, **SIZE)
    model.load_state_dict(torch.load(detector_weights, weights_only=True))
    model.roi_heads.score_thresh, model.roi_heads.nms_thresh, model.roi_heads.detections_per_img = 0.0, 0.3, 5
    return model.eval()


def records() -> list[ImageRecord]:
    return [ImageRecord("a", "a.png", pattern(60, 90, 1)), ImageRecord("b", "b.png", pattern(70, 50, 2))]


def test_kept_boxes_are_the_models_detections_with_box_head_features(backend, reference):
    images = records()
    found = backend.detect(images)
    tensors = [torch.from_numpy(r.pixels).permute(2, 0, 1).float() / 255 for r in images]
    with torch.no_grad():
        expected = reference(tensors)
        batch, _ = reference.transform(tensors)
        features = reference.backbone(batch.tensors)
        scaled = [
            out["boxes"] * torch.tensor([w / r.size[1], h / r.size[0]] * 2)
            for out, r, (h, w) in zip(expected, images, batch.image_sizes, strict=True)
        ]
        head = reference.roi_heads.box_head(reference.roi_heads.box_roi_pool(features, scaled, batch.image_sizes))
    rows = [len(out["boxes"]) for out in expected]
    for det, out, pooled in zip(found, expected, head.split(rows), strict=True):
        assert len(det.boxes) == len(out["boxes"]) == 5
        np.testing.assert_allclose(det.boxes, out["boxes"].numpy(), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(det.scores, out["scores"].numpy(), rtol=1e-5)
        np.testing.assert_array_equal(det.labels, out["labels"].numpy())
        np.testing.assert_allclose(det.features, pooled.numpy(), rtol=1e-4, atol=1e-4)
    assert backend.feature_dim == 1024
    assert backend.label_names[:3] == ["__background__", "person", "bicycle"] and len(backend.label_names) == 91


def test_minimum_boxes_when_nothing_passes_the_threshold(detector_weights, backend):
    strict = TorchvisionBackend(MODEL, str(detector_weights), score_threshold=1.01, min_boxes=2, max_boxes=5, **SIZE)
    for loose, tight in zip(backend.detect(records()), strict.detect(records()), strict=True):
        assert len(tight.boxes) == 2  # the top-scoring boxes, though none reaches the threshold
        np.testing.assert_allclose(tight.boxes, loose.boxes[:2], rtol=1e-5, atol=1e-4)
        assert (np.diff(tight.scores) <= 0).all()


def test_boxes_are_reported_in_the_files_coordinates(backend):
    full = ImageRecord("a", "a.png", pattern(60, 90, 1))
    halved = ImageRecord("a", "a.png", full.pixels, original_size=(120, 180))
    np.testing.assert_allclose(backend.detect([halved])[0].boxes, backend.detect([full])[0].boxes * 2, rtol=1e-5)


def test_provenance_and_required_weights(backend):
    provenance = backend.provenance()
    assert provenance["model"] == MODEL and provenance["features"] == "box_head"
    assert provenance["weights"]["file"] == "frcnn.pth" and provenance["max_boxes"] == 5
    with pytest.raises(ValueError, match="needs weights"):
        TorchvisionBackend(MODEL, None)


@pytest.mark.slow
def test_single_stage_models_pool_their_finest_level(tmp_path):
    weights = save_random_weights(
        tmp_path / "ssd.pth", "ssdlite320_mobilenet_v3_large", weights_backbone=None, num_classes=91
    )
    backend = TorchvisionBackend("ssdlite320_mobilenet_v3_large", str(weights), min_boxes=3, max_boxes=4)
    found = backend.detect(records())
    assert backend.provenance()["features"].startswith("roi_align")
    for det, record in zip(found, records(), strict=True):
        assert 3 <= len(det.boxes) <= 4 and det.features.shape == (len(det.boxes), backend.feature_dim)
        height, width = record.size
        assert (det.boxes[:, [0, 2]] <= width + 1e-3).all() and (det.boxes[:, [1, 3]] <= height + 1e-3).all()
