"""The bottom-up-attention key map against a state dict with the official Caffe names and shapes (no detectron2)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from features.weights.butd_vg import build_key_map, convert_butd_state_dict, is_butd_state_dict
from features.weights.layout import read_state_dict

CONFIG = Path(__file__).parents[2] / "configs" / "features" / "vg_r101_c4.yaml"

# ResNet-101 of test.prototxt (models/vg/ResNet-101/faster_rcnn_end2end_final): per stage, the block names and the
# (input, bottleneck, output) channels; res5 sits in the RoI head.
STAGES = {
    2: (["a", "b", "c"], 64, 64, 256),
    3: (["a", "b1", "b2", "b3"], 256, 128, 512),
    4: (["a"] + [f"b{i}" for i in range(1, 23)], 512, 256, 1024),
    5: (["a", "b", "c"], 1024, 512, 2048),
}
CLASSES, ATTRIBUTES, ANCHORS = 1600, 400, 12


def conv_norm(caffe: dict, d2: dict, conv: str, norm: str, target: str, shape: tuple[int, ...]) -> None:
    """One Convolution + BatchNorm + Scale triple, in Caffe names and in detectron2 names."""
    caffe[f"{conv}.weight"] = shape
    caffe |= {f"bn{norm}.running_mean": shape[:1], f"bn{norm}.running_var": shape[:1]}
    caffe |= {f"scale{norm}.weight": shape[:1], f"scale{norm}.bias": shape[:1]}
    d2[f"{target}.weight"] = shape
    d2 |= {f"{target}.norm.{name}": shape[:1] for name in ("weight", "bias", "running_mean", "running_var")}


def official_shapes() -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """{Caffe key: shape} of the public model and {detectron2 key: shape} of our detector, written independently."""
    caffe: dict[str, tuple[int, ...]] = {}
    d2: dict[str, tuple[int, ...]] = {}
    conv_norm(caffe, d2, "conv1", "_conv1", "backbone.stem.conv1", (64, 3, 7, 7))
    for stage, (letters, inputs, width, outputs) in STAGES.items():
        prefix = "roi_heads.res5" if stage == 5 else f"backbone.res{stage}"
        for index, letter in enumerate(letters):
            name = f"{stage}{letter}"
            block_in = inputs if index == 0 else outputs
            if index == 0:
                conv_norm(
                    caffe, d2, f"res{name}_branch1", f"{name}_branch1", f"{prefix}.0.shortcut", (outputs, inputs, 1, 1)
                )
            block = f"{prefix}.{index}"
            conv_norm(caffe, d2, f"res{name}_branch2a", f"{name}_branch2a", f"{block}.conv1", (width, block_in, 1, 1))
            conv_norm(caffe, d2, f"res{name}_branch2b", f"{name}_branch2b", f"{block}.conv2", (width, width, 3, 3))
            conv_norm(caffe, d2, f"res{name}_branch2c", f"{name}_branch2c", f"{block}.conv3", (outputs, width, 1, 1))
    layers = {
        # Caffe layer: (Caffe weight shape, detectron2 module, detectron2 weight shape)
        "rpn_conv/3x3": ((512, 1024, 3, 3), "proposal_generator.rpn_head.conv", (512, 1024, 3, 3)),
        "rpn_cls_score": (
            (2 * ANCHORS, 512, 1, 1),
            "proposal_generator.rpn_head.objectness_logits",
            (ANCHORS, 512, 1, 1),
        ),
        "rpn_bbox_pred": (
            (4 * ANCHORS, 512, 1, 1),
            "proposal_generator.rpn_head.anchor_deltas",
            (4 * ANCHORS, 512, 1, 1),
        ),
        "cls_score": ((CLASSES + 1, 2048), "roi_heads.box_predictor.cls_score", (CLASSES + 1, 2048)),
        "bbox_pred": ((4 * (CLASSES + 1), 2048), "roi_heads.box_predictor.bbox_pred", (4 * CLASSES, 2048)),
        "fc_attr": ((512, 2048 + 256), "roi_heads.attribute_head.fc", (512, 2048 + 256)),
        "attr_score": ((ATTRIBUTES + 1, 512), "roi_heads.attribute_head.score", (ATTRIBUTES + 1, 512)),
    }
    for layer, (shape, module, target_shape) in layers.items():
        caffe |= {f"{layer}.weight": shape, f"{layer}.bias": shape[:1]}
        d2 |= {f"{module}.weight": target_shape, f"{module}.bias": target_shape[:1]}
    caffe["cls_embedding.weight"] = (CLASSES + 1, 256)
    d2["roi_heads.attribute_head.class_embedding.weight"] = (CLASSES + 1, 256)
    return caffe, d2


def official_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the official names (small values: the weights are never run)."""
    generator = torch.Generator().manual_seed(seed)
    return {key: torch.randn(shape, generator=generator) for key, shape in official_shapes()[0].items()}


@pytest.fixture(scope="module")
def source() -> dict[str, torch.Tensor]:
    return official_state_dict()


def test_every_official_key_maps_to_the_expected_detectron2_key_and_shape(source):
    caffe_shapes, d2_shapes = official_shapes()
    assert len(caffe_shapes) == 535  # from the 320 Caffe layers with parameters
    converted, report = convert_butd_state_dict(source)
    assert report.ok and not report.ignored
    assert {key: tuple(value.shape) for key, value in converted.items()} == d2_shapes
    assert set(build_key_map()) == set(caffe_shapes)


def test_resnet_tensors_are_renamed_without_change(source):
    converted, _ = convert_butd_state_dict(source)
    pairs = {
        "res4b22_branch2b.weight": "backbone.res4.22.conv2.weight",
        "bn3b1_branch2a.running_var": "backbone.res3.1.conv1.norm.running_var",
        "scale5c_branch2c.bias": "roi_heads.res5.2.conv3.norm.bias",
        "scale_conv1.weight": "backbone.stem.conv1.norm.weight",
        "res5a_branch1.weight": "roi_heads.res5.0.shortcut.weight",
    }
    for caffe, d2 in pairs.items():
        assert torch.equal(converted[d2], source[caffe])


def test_rpn_objectness_keeps_the_softmax_probability(source):
    converted, _ = convert_butd_state_dict(source)
    hidden = torch.randn(512)
    caffe_scores = source["rpn_cls_score.weight"][:, :, 0, 0] @ hidden + source["rpn_cls_score.bias"]
    # Caffe reshapes the 24 channels to (2, 12): all background scores, then all object scores.
    caffe_object = caffe_scores.view(2, ANCHORS).softmax(dim=0)[1]
    logits = converted["proposal_generator.rpn_head.objectness_logits.weight"][:, :, 0, 0] @ hidden
    logits = logits + converted["proposal_generator.rpn_head.objectness_logits.bias"]
    torch.testing.assert_close(torch.sigmoid(logits), caffe_object)
    torch.testing.assert_close(
        converted["proposal_generator.rpn_head.anchor_deltas.weight"], source["rpn_bbox_pred.weight"]
    )


def test_background_moves_last_and_loses_its_boxes(source):
    converted, _ = convert_butd_state_dict(source)
    pooled = torch.randn(2048)
    caffe_probs = (source["cls_score.weight"] @ pooled + source["cls_score.bias"]).softmax(dim=0)
    d2 = converted["roi_heads.box_predictor.cls_score.weight"] @ pooled
    d2_probs = (d2 + converted["roi_heads.box_predictor.cls_score.bias"]).softmax(dim=0)
    torch.testing.assert_close(d2_probs[:-1], caffe_probs[1:])  # class k of ours is Caffe's k + 1
    torch.testing.assert_close(d2_probs[-1], caffe_probs[0])  # background
    torch.testing.assert_close(converted["roi_heads.box_predictor.bbox_pred.weight"], source["bbox_pred.weight"][4:])
    torch.testing.assert_close(converted["roi_heads.box_predictor.bbox_pred.bias"], source["bbox_pred.bias"][4:])
    embedding = converted["roi_heads.attribute_head.class_embedding.weight"]
    torch.testing.assert_close(embedding[:-1], source["cls_embedding.weight"][1:])
    torch.testing.assert_close(embedding[-1], source["cls_embedding.weight"][0])
    scores = converted["roi_heads.attribute_head.score.weight"]
    torch.testing.assert_close(scores[:-1], source["attr_score.weight"][1:])  # "no attribute" last
    torch.testing.assert_close(scores[-1], source["attr_score.weight"][0])


def test_merged_batchnorm_and_underscore_spellings_convert_alike(source):
    merged = {}
    for key, value in source.items():
        key = key.replace("rpn_conv/3x3", "rpn_conv_3x3")
        if key.startswith("scale"):
            key = "bn" + key[len("scale") :]
            merged[key.rsplit(".", 1)[0] + ".num_batches_tracked"] = torch.tensor(0)
        merged[key] = value
    expected, _ = convert_butd_state_dict(source)
    converted, report = convert_butd_state_dict(merged)
    assert report.ok
    assert "bn2a_branch1.num_batches_tracked" in report.ignored
    assert converted.keys() == expected.keys()
    assert all(torch.equal(converted[key], expected[key]) for key in expected)


def test_report_names_missing_unexpected_and_duplicate_keys(source):
    state = dict(source)
    del state["res3b2_branch2b.weight"], state["bn4a_branch1.running_mean"]
    state["res6a_branch2a.weight"] = torch.zeros(1)
    state["bn2a_branch1.weight"] = state["scale2a_branch1.weight"]  # one tensor spelled twice
    converted, report = convert_butd_state_dict(state)
    assert report.missing == ["res3b2_branch2b.weight", "bn4a_branch1.running_mean"]
    assert report.unexpected == ["bn2a_branch1.weight", "res6a_branch2a.weight"]
    assert not report.ok
    assert "backbone.res3.2.conv2.weight" not in converted


def test_detector_without_attribute_head(source):
    state = {
        key: value
        for key, value in source.items()
        if key.split(".")[0] not in ("cls_embedding", "fc_attr", "attr_score")
    }
    converted, report = convert_butd_state_dict(state)
    assert report.ok
    assert not any(key.startswith("roi_heads.attribute_head") for key in converted)
    _, forced = convert_butd_state_dict(state, attributes=True)
    assert set(forced.missing) == {
        "cls_embedding.weight",
        "fc_attr.weight",
        "fc_attr.bias",
        "attr_score.weight",
        "attr_score.bias",
    }


def test_read_state_dict_unwraps_checkpoints(tmp_path):
    tensors = {"res2a_branch2a.weight": torch.ones(64, 64, 1, 1)}
    for wrapper in (None, "state_dict", "model"):
        path = tmp_path / f"{wrapper}.pth"
        torch.save(tensors if wrapper is None else {wrapper: tensors, "iteration": 3}, path)
        loaded = read_state_dict(str(path))
        assert loaded.keys() == tensors.keys() and is_butd_state_dict(loaded)
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="not a state dict"):
        read_state_dict(str(tmp_path / "list.pth"))


@pytest.mark.detectron2
def test_converted_weights_load_into_the_configured_detector(tmp_path):
    pytest.importorskip("detectron2")
    from detectron2.config import CfgNode, get_cfg

    from features.backends.detectron2_model import add_butd_config, build_butd_model
    from features.backends.detectron2_weights import load_weights

    cfg = add_butd_config(get_cfg())
    cfg.merge_from_other_cfg(CfgNode(yaml.safe_load(CONFIG.read_text())["backend"]["init_args"]["model"]))
    model = build_butd_model(cfg)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert expected == official_shapes()[1]
    source = official_state_dict(seed=1)
    path = tmp_path / "butd.pth"
    torch.save(source, path)
    assert load_weights(model, str(path)) == "butd_caffe"  # recognised by its key names
    converted, _ = convert_butd_state_dict(source)
    state = model.state_dict()
    assert all(torch.equal(state[key], value) for key, value in converted.items())
    del source["cls_embedding.weight"]
    torch.save(source, path)
    with pytest.raises(ValueError, match=r"cls_embedding\.weight"):
        load_weights(model, str(path))
