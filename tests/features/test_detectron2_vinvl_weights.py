"""The VinVL (maskrcnn_benchmark) key map against a state dict with VinVL's names and shapes.

The map itself needs no detectron2; the last test loads the converted weights into the configured detector.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from features.weights.vinvl_vg import convert_vinvl_state_dict, is_vinvl_state_dict

CONFIG = Path(__file__).parents[2] / "configs" / "features" / "vinvl_x152c4.yaml"
CLASSES, ATTRIBUTES, ANCHORS = 1594, 524, 15
# ResNeXt-152 32x8d: blocks, input, bottleneck width and output channels per stage (res2..res5).
STAGES = {2: (3, 64, 256, 256), 3: (8, 256, 512, 512), 4: (36, 512, 1024, 1024), 5: (3, 1024, 2048, 2048)}
GROUPS = 32
NORM = ("weight", "bias", "running_mean", "running_var")


def vinvl_shapes() -> tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]]:
    """{VinVL key: shape} of vinvl_vg_x152c4.pth and {detectron2 key: shape} of our detector, written independently."""
    theirs: dict[str, tuple[int, ...]] = {"backbone.body.stem.conv1.weight": (64, 3, 7, 7)}
    ours: dict[str, tuple[int, ...]] = {"backbone.stem.conv1.weight": (64, 3, 7, 7)}
    theirs |= {f"backbone.body.stem.bn1.{name}": (64,) for name in NORM}
    ours |= {f"backbone.stem.conv1.norm.{name}": (64,) for name in NORM}
    for stage, (blocks, inputs, width, outputs) in STAGES.items():
        source = "roi_heads.box.feature_extractor.head.layer4" if stage == 5 else f"backbone.body.layer{stage - 1}"
        target = "roi_heads.res5" if stage == 5 else f"backbone.res{stage}"
        for index in range(blocks):
            convs = {
                "conv1": (width, inputs if index == 0 else outputs, 1, 1),
                "conv2": (width, width // GROUPS, 3, 3),
                "conv3": (outputs, width, 1, 1),
            }
            for number, (conv, shape) in enumerate(convs.items(), start=1):
                theirs[f"{source}.{index}.{conv}.weight"] = shape
                ours[f"{target}.{index}.{conv}.weight"] = shape
                theirs |= {f"{source}.{index}.bn{number}.{name}": shape[:1] for name in NORM}
                ours |= {f"{target}.{index}.{conv}.norm.{name}": shape[:1] for name in NORM}
            if index == 0:
                theirs[f"{source}.0.downsample.0.weight"] = ours[f"{target}.0.shortcut.weight"] = (
                    outputs,
                    inputs,
                    1,
                    1,
                )
                theirs |= {f"{source}.0.downsample.1.{name}": (outputs,) for name in NORM}
                ours |= {f"{target}.0.shortcut.norm.{name}": (outputs,) for name in NORM}
    layers = {
        "rpn.head.conv": ((1024, 1024, 3, 3), "proposal_generator.rpn_head.conv", (1024, 1024, 3, 3)),
        "rpn.head.cls_logits": ((ANCHORS, 1024, 1, 1), "proposal_generator.rpn_head.objectness_logits", None),
        "rpn.head.bbox_pred": ((4 * ANCHORS, 1024, 1, 1), "proposal_generator.rpn_head.anchor_deltas", None),
        "roi_heads.box.predictor.cls_score": ((CLASSES + 1, 2048), "roi_heads.box_predictor.cls_score", None),
        "roi_heads.box.predictor.bbox_pred": (
            (4 * (CLASSES + 1), 2048),
            "roi_heads.box_predictor.bbox_pred",
            (4 * CLASSES, 2048),
        ),
        "attribute.predictor.fc_attr": ((512, 2048 + 256), "roi_heads.attribute_head.fc", None),
        "attribute.predictor.attr_score": ((ATTRIBUTES + 1, 512), "roi_heads.attribute_head.score", None),
    }
    for layer, (shape, module, target_shape) in layers.items():
        theirs |= {f"{layer}.weight": shape, f"{layer}.bias": shape[:1]}
        target_shape = target_shape or shape
        ours |= {f"{module}.weight": target_shape, f"{module}.bias": target_shape[:1]}
    theirs["attribute.predictor.cls_embedding.weight"] = (CLASSES + 1, 256)
    ours["roi_heads.attribute_head.class_embedding.weight"] = (CLASSES + 1, 256)
    return theirs, ours


def vinvl_state_dict() -> dict[str, torch.Tensor]:
    """VinVL's keys as a distributed-training checkpoint has them: `module.` prefixes, shared and buffer copies."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in vinvl_shapes()[0].items():
        # Zeros for the bulk (fast), random where the conversion re-lays rows.
        small = "predictor" in key or "rpn" in key
        state[f"module.{key}"] = torch.randn(shape, generator=generator) if small else torch.zeros(shape)
    state["module.attribute.feature_extractor.head.layer4.0.conv1.weight"] = torch.zeros(2048, 1024, 1, 1)
    state["module.rpn.anchor_generator.cell_anchors.0"] = torch.zeros(ANCHORS, 4)
    return state


@pytest.fixture(scope="module")
def source() -> dict[str, torch.Tensor]:
    return vinvl_state_dict()


def test_every_vinvl_key_maps_to_the_expected_shape(source):
    converted, report = convert_vinvl_state_dict(source)
    assert report.ok, (report.missing[:5], report.unexpected[:5])
    assert report.ignored == [
        "attribute.feature_extractor.head.layer4.0.conv1.weight",
        "rpn.anchor_generator.cell_anchors.0",
    ]
    assert {key: tuple(value.shape) for key, value in converted.items()} == vinvl_shapes()[1]
    assert is_vinvl_state_dict(source)


def test_class_rows_move_background_last(source):
    converted, _ = convert_vinvl_state_dict(source)
    cls_score = source["module.roi_heads.box.predictor.cls_score.weight"]
    torch.testing.assert_close(converted["roi_heads.box_predictor.cls_score.weight"][-1], cls_score[0])
    torch.testing.assert_close(converted["roi_heads.box_predictor.cls_score.weight"][:-1], cls_score[1:])
    boxes = source["module.roi_heads.box.predictor.bbox_pred.weight"]
    torch.testing.assert_close(converted["roi_heads.box_predictor.bbox_pred.weight"], boxes[4:])
    attributes = source["module.attribute.predictor.attr_score.bias"]
    torch.testing.assert_close(converted["roi_heads.attribute_head.score.bias"][:-1], attributes[1:])
    objectness = source["module.rpn.head.cls_logits.weight"]
    torch.testing.assert_close(converted["proposal_generator.rpn_head.objectness_logits.weight"], objectness)


def test_report_names_what_does_not_fit(source):
    state = dict(source)
    del state["module.backbone.body.layer3.35.bn3.running_var"]
    state["module.roi_heads.mask.predictor.weight"] = torch.zeros(1)
    _, report = convert_vinvl_state_dict(state)
    assert report.missing == ["backbone.body.layer3.35.bn3.running_var"]
    assert report.unexpected == ["roi_heads.mask.predictor.weight"]


@pytest.mark.detectron2
def test_vinvl_weights_load_into_the_configured_detector(source, tmp_path):
    pytest.importorskip("detectron2")
    from detectron2.config import CfgNode, get_cfg

    from features.backends.detectron2_model import add_butd_config, build_butd_model
    from features.backends.detectron2_weights import load_weights

    cfg = add_butd_config(get_cfg())
    cfg.merge_from_other_cfg(CfgNode(yaml.safe_load(CONFIG.read_text())["backend"]["init_args"]["model"]))
    model = build_butd_model(cfg)
    assert {key: tuple(value.shape) for key, value in model.state_dict().items()} == vinvl_shapes()[1]
    path = tmp_path / "vinvl.pth"
    torch.save({"model": source, "iteration": 1}, path)
    assert load_weights(model, str(path), depth=152) == "vinvl"
    state = model.state_dict()
    converted, _ = convert_vinvl_state_dict(source)
    assert all(torch.equal(state[key], value) for key, value in converted.items())
