"""The detectron2 backend on small generated images, with random weights (skipped where detectron2 is missing).

Random weights give no boxes of their own, so the RPN and box-regression deltas are zeroed (proposals are anchors,
regressed boxes are the proposals) and the classifier is replaced by one that puts most of the probability on three
classes, so that scores fall on both sides of the 0.2 threshold. The model is the configured ResNet-101 C4 with its
attribute head, at test sizes: images scaled by exactly 2 (boxes map back without rounding), 4x4 RoI pools.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

pytest.importorskip("detectron2")

from detectron2.structures import Boxes

from features.backends.base import ImageRecord
from features.backends.detectron2 import Detectron2Backend
from features.backends.detectron2_model import CaffeAnchorGenerator
from tests.features.test_detectron2_select import reference_selection

pytestmark = pytest.mark.detectron2

CONFIG = Path(__file__).parents[2] / "configs" / "features" / "vg_r101_c4.yaml"
SIZES = [(32, 48), (48, 32), (32, 32)]  # shorter side 32 -> 64: a scale of exactly 2
CLASSES, ATTRIBUTES = 1600, 400


def small_model_config() -> dict:
    """The configured model at test sizes."""
    model = yaml.safe_load(CONFIG.read_text())["backend"]["init_args"]["model"]
    model["INPUT"]["MIN_SIZE_TEST"] = 64
    model["MODEL"]["RPN"]["POST_NMS_TOPK_TEST"] = 40
    model["MODEL"]["ROI_BOX_HEAD"]["POOLER_RESOLUTION"] = 4
    return model


def make_backend(**settings) -> Detectron2Backend:
    """A backend with seeded random weights, zeroed deltas and a three-class classifier."""
    settings = {"min_boxes": 10, "max_boxes": 20, "attribute_threshold": 0.0, **settings}
    with pytest.warns(UserWarning, match="RANDOM WEIGHTS"):
        backend = Detectron2Backend(
            small_model_config(),
            label_names=[f"object_{i}" for i in range(CLASSES)],
            attribute_names=[f"attribute_{i}" for i in range(ATTRIBUTES)],
            device="cpu",
            **settings,
        )
    model = backend.model
    for layer in (model.proposal_generator.rpn_head.anchor_deltas, model.roi_heads.box_predictor.bbox_pred):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    # Random res4/res5 features grow to ~1e6; a classifier on their direction gives probabilities of order 0.1-0.9.
    scale = backend.proposals(ImageRecord("probe", "probe", image(*SIZES[0], seed=99))).features.norm(dim=1).mean()
    classifier = model.roi_heads.box_predictor.cls_score
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        classifier.weight.zero_()
        classifier.bias.zero_()
        for cls in (3, 7, 11):
            classifier.weight[cls] = torch.randn(classifier.in_features, generator=generator) * 60 / scale
            classifier.bias[cls] = 6.5
        # The attribute head likewise, with a class embedding as strong as the features.
        head = model.roi_heads.attribute_head
        pooled_dim = classifier.in_features
        head.fc.weight[:, :pooled_dim] = torch.randn(head.fc.out_features, pooled_dim, generator=generator) / scale
        for weight in (head.fc.weight[:, pooled_dim:], head.class_embedding.weight, head.score.weight):
            weight.copy_(torch.randn(weight.shape, generator=generator))
    return backend


def image(height: int, width: int, seed: int) -> np.ndarray:
    """[H, W, 3] uint8: a few flat rectangles on a noisy background."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
    for _ in range(3):
        y, x = rng.integers(0, height // 2), rng.integers(0, width // 2)
        pixels[y : y + height // 2, x : x + width // 2] = rng.integers(0, 256, 3)
    return pixels


@pytest.fixture(scope="module")
def backend() -> Detectron2Backend:
    return make_backend()


@pytest.fixture(scope="module")
def records() -> list[ImageRecord]:
    return [ImageRecord(f"img{i}", f"img{i}.png", image(h, w, seed=i)) for i, (h, w) in enumerate(SIZES)]


@pytest.fixture(scope="module")
def detections(backend, records):
    return backend.detect(records)


@pytest.fixture(scope="module")
def outputs(backend, records):
    """Every proposal of each image, before selection."""
    return [backend.proposals(record) for record in records]


def test_contract_attributes(backend):
    assert backend.feature_dim == 2048
    assert len(backend.label_names) == CLASSES and len(backend.attribute_names) == ATTRIBUTES
    assert backend.max_attributes_per_region == 3
    provenance = backend.provenance()
    json.dumps(provenance)
    assert provenance["backend"] == "detectron2" and provenance["weights"] == {"random_init_seed": 0}
    assert provenance["score_threshold"] == 0.2 and provenance["min_boxes"] == 10 and provenance["max_boxes"] == 20
    assert "RES5_DILATION: 2" in provenance["model_config"] and "NUM_ATTRIBUTES: 400" in provenance["model_config"]


def test_regions_fit_the_images(detections, records):
    for found, record in zip(detections, records, strict=True):
        height, width = record.size
        count = len(found.boxes)
        assert 10 <= count <= 20
        assert found.features.shape == (count, 2048) and found.features.dtype == np.float32
        assert found.boxes.dtype == np.float32 and found.scores.shape == (count,)
        x1, y1, x2, y2 = found.boxes.T
        assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= width).all() and (y2 <= height).all()
        assert (x1 < x2).all() and (y1 < y2).all()
        assert set(found.labels[found.scores >= 0.2].tolist()) <= {3, 7, 11}  # the only classes that can score 0.2
        assert (np.diff(found.scores) <= 0).all()
        assert found.attributes.shape == (count, 3) and found.attribute_scores.shape == (count, 3)
        assert ((found.attributes >= 0) & (found.attributes < ATTRIBUTES)).all()  # threshold 0: always three


def test_some_scores_pass_and_some_fall_below_the_threshold(detections):
    scores = np.concatenate([found.scores for found in detections])
    assert (scores >= 0.2).any() and (scores < 0.2).any()


def test_selection_matches_a_per_class_reference(outputs, detections):
    for proposals, found in zip(outputs, detections, strict=True):
        probs = proposals.class_probs[:, :-1]
        indices, scores, labels = reference_selection(proposals.boxes, probs, 0.2, 0.3, 10, 20)
        np.testing.assert_array_equal(found.boxes, proposals.boxes[indices].numpy())
        np.testing.assert_allclose(found.scores, scores, rtol=1e-6)
        np.testing.assert_array_equal(found.labels, labels)
        np.testing.assert_array_equal(found.features, proposals.features[indices].numpy())


def test_features_are_the_res5_pooling_of_the_kept_boxes(backend, records, detections):
    model = backend.model
    mean = torch.tensor(backend.cfg.MODEL.PIXEL_MEAN).view(3, 1, 1)
    for record, found in zip(records, detections, strict=True):
        height, width = record.size
        bgr = torch.from_numpy(record.pixels).permute(2, 0, 1).float().flip(0)
        resized = F.interpolate(bgr[None], size=(2 * height, 2 * width), mode="bilinear", align_corners=False)
        with torch.no_grad():
            res4 = model.backbone(resized - mean)["res4"]
            pooled = model.roi_heads.pooler([res4], [Boxes(torch.from_numpy(found.boxes) * 2)])
            expected = model.roi_heads.res5(pooled).mean(dim=(2, 3))
        torch.testing.assert_close(
            torch.from_numpy(found.features), expected, rtol=1e-4, atol=1e-3 * expected.abs().max()
        )


def test_attributes_are_conditioned_on_the_stored_class(backend, detections):
    head = backend.model.roi_heads.attribute_head
    found = detections[0]
    features, labels = torch.from_numpy(found.features), torch.from_numpy(found.labels)
    with torch.no_grad():
        probs = head(features, labels).softmax(dim=1)
        other = head(features, (labels + 1) % CLASSES).softmax(dim=1)
    top = probs[:, :-1].topk(3, dim=1)
    np.testing.assert_array_equal(found.attributes, top.indices.numpy())
    np.testing.assert_allclose(found.attribute_scores, top.values.numpy(), rtol=1e-5)
    assert not torch.allclose(probs, other)


def test_fixed_count_keeps_the_best_regions(records, outputs):
    fixed = make_backend(min_boxes=12, max_boxes=12)  # the same seeded weights as `backend`
    for proposals, found in zip(outputs, fixed.detect(records), strict=True):
        indices, _, _ = reference_selection(proposals.boxes, proposals.class_probs[:, :-1], 0.2, 0.3, 12, 12)
        assert len(found.boxes) == 12
        np.testing.assert_array_equal(found.boxes, proposals.boxes[indices].numpy())


def test_regressed_boxes_equal_proposals_when_deltas_are_zero(records, detections):
    regressed = make_backend(box_source="regressed")
    for found, again in zip(detections, regressed.detect(records), strict=True):
        np.testing.assert_allclose(again.boxes, found.boxes, atol=1e-3)
        np.testing.assert_array_equal(again.labels, found.labels)
        np.testing.assert_allclose(again.features, found.features, rtol=1e-6)


def test_boxes_refer_to_the_full_size_image(backend, records, detections):
    record = records[0]
    height, width = record.size
    downscaled = ImageRecord(record.image_id, record.path, record.pixels, original_size=(3 * height, 3 * width))
    (found,) = backend.detect([downscaled])
    np.testing.assert_allclose(found.boxes, detections[0].boxes * 3, rtol=1e-6)


def test_caffe_anchors():
    """The anchors of Caffe's generate_anchors (base 16, ratios 0.5/1/2, scales 4-32), as continuous boxes."""
    expected = []
    for ratio in (0.5, 1.0, 2.0):
        base_w = np.round(np.sqrt(256 / ratio))
        base_h = np.round(base_w * ratio)
        for scale in (4, 8, 16, 32):
            # Caffe's box spans pixels x1..x2 around 7.5: [7.5 - (w - 1) / 2, 7.5 + (w - 1) / 2], i.e. w pixels wide.
            w, h = base_w * scale, base_h * scale
            expected.append([7.5 - (w - 1) / 2, 7.5 - (h - 1) / 2, 7.5 + (w - 1) / 2 + 1, 7.5 + (h - 1) / 2 + 1])
    generator = CaffeAnchorGenerator(
        sizes=[[64, 128, 256, 512]], aspect_ratios=[[0.5, 1.0, 2.0]], strides=[16], offset=0.5
    )
    (anchors,) = generator.forward([torch.zeros(1, 1, 1, 1)])
    np.testing.assert_allclose(anchors.tensor.numpy(), np.array(expected, dtype=np.float32))


def test_caffe_stem_pools_without_padding(backend):
    stem = backend.model.backbone.stem
    # 66 -> conv 33 -> Caffe's pool: ceil((33 - 3) / 2) + 1 = 16, where a padded pool gives 17.
    assert stem(torch.zeros(1, 3, 66, 98)).shape[-2:] == (16, 24)


def test_settings_and_vocabularies_are_checked(tmp_path):
    model = small_model_config()
    names = [f"object_{i}" for i in range(CLASSES)]
    with pytest.raises(ValueError, match="box_source"):
        Detectron2Backend(model, label_names=names, box_source="best")
    with pytest.raises(ValueError, match="min_boxes"):
        Detectron2Backend(model, label_names=names, min_boxes=40, max_boxes=36)
    with pytest.raises(ValueError, match="1599 label names"):
        Detectron2Backend(model, label_names=names[1:])
    with pytest.raises(ValueError, match="attribute_names"):
        Detectron2Backend(model, label_names=names)
    vocabulary = tmp_path / "attributes.txt"
    vocabulary.write_text("\n".join(f"attribute {i}" for i in range(ATTRIBUTES - 1)) + "\n")
    with pytest.raises(ValueError, match="399 attribute names"):
        Detectron2Backend(model, label_names=names, attribute_names=str(vocabulary))
    with pytest.raises(KeyError):  # detectron2 refuses keys it does not know
        Detectron2Backend({"MODEL": {"NO_SUCH_KEY": 1}}, label_names=names)


def test_an_image_without_proposals_gets_one_whole_image_region(records):
    model = small_model_config()
    model["MODEL"]["PROPOSAL_GENERATOR"]["MIN_SIZE"] = 10_000  # filters out every proposal
    with pytest.warns(UserWarning, match="RANDOM WEIGHTS"):
        backend = Detectron2Backend(
            model,
            label_names=[f"object_{i}" for i in range(CLASSES)],
            attribute_names=[f"attribute_{i}" for i in range(ATTRIBUTES)],
            device="cpu",
        )
    (found,) = backend.detect(records[:1])
    height, width = records[0].size
    np.testing.assert_array_equal(found.boxes, [[0, 0, width, height]])
    assert found.features.shape == (1, 2048) and found.attributes.shape == (1, 3)
