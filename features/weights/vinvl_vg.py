"""VinVL's Visual Genome detector (Zhang et al. 2021) in detectron2's module names.

The public checkpoint `vinvl_vg_x152c4.pth` (microsoft/scene_graph_benchmark) is a maskrcnn_benchmark `AttrRCNN`:
a ResNeXt-152 32x8d C4 Faster R-CNN with 1594 VG classes and 524 attributes, saved under "model", its keys possibly
prefixed by `module.` (distributed training). Its modules -> ours:
- `backbone.body.stem.{conv1,bn1}` -> `backbone.stem.conv1{,.norm}`;
- `backbone.body.layer{1,2,3}.<i>.{conv,bn}{1,2,3}` and `downsample.{0,1}` -> `backbone.res{2,3,4}.<i>.conv{1,2,3}`
  (`.norm`) and `shortcut` (`.norm`); res5 is `roi_heads.box.feature_extractor.head.layer4` -> `roi_heads.res5`;
- `rpn.head.{conv,cls_logits,bbox_pred}` -> `proposal_generator.rpn_head.{conv,objectness_logits,anchor_deltas}` (one
  sigmoid logit per anchor in both; maskrcnn_benchmark orders anchors aspect ratio major, like the backend's Caffe-style
  anchor generator);
- `roi_heads.box.predictor.{cls_score,bbox_pred}` -> `roi_heads.box_predictor.*`, background moved from first to last
  and its box rows dropped;
- `attribute.predictor.{cls_embedding,fc_attr,attr_score}` -> `roi_heads.attribute_head.{class_embedding,fc,score}`,
  background and "no attribute" moved last.
Ignored by rule (and listed): `attribute.feature_extractor.*`, the box head's res5 again under the attribute head's
name (the two share it), and `rpn.anchor_generator.*` buffers.

Plain torch: no detectron2 or maskrcnn_benchmark import.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from features.weights.layout import ConversionReport, apply_key_map, background_last, drop_background_boxes

BLOCKS_PER_STAGE: dict[int, tuple[int, int, int, int]] = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
NORM_TENSORS = ("weight", "bias", "running_mean", "running_var")

# A maskrcnn_benchmark Bottleneck's children -> detectron2's BottleneckBlock children.
_BLOCK = {
    "conv1": "conv1",
    "bn1": "conv1.norm",
    "conv2": "conv2",
    "bn2": "conv2.norm",
    "conv3": "conv3",
    "bn3": "conv3.norm",
    "downsample.0": "shortcut",
    "downsample.1": "shortcut.norm",
}
_HEADS = {
    "rpn.head.conv": "proposal_generator.rpn_head.conv",
    "rpn.head.cls_logits": "proposal_generator.rpn_head.objectness_logits",
    "rpn.head.bbox_pred": "proposal_generator.rpn_head.anchor_deltas",
    "roi_heads.box.predictor.cls_score": "roi_heads.box_predictor.cls_score",
    "roi_heads.box.predictor.bbox_pred": "roi_heads.box_predictor.bbox_pred",
}
_ATTRIBUTE_HEAD = {
    "attribute.predictor.fc_attr": "roi_heads.attribute_head.fc",
    "attribute.predictor.attr_score": "roi_heads.attribute_head.score",
}
_IGNORED_PREFIXES = ("attribute.feature_extractor.", "rpn.anchor_generator.")
_TRANSFORMS = {
    "roi_heads.box.predictor.cls_score.weight": background_last,
    "roi_heads.box.predictor.cls_score.bias": background_last,
    "roi_heads.box.predictor.bbox_pred.weight": drop_background_boxes,
    "roi_heads.box.predictor.bbox_pred.bias": drop_background_boxes,
    "attribute.predictor.cls_embedding.weight": background_last,
    "attribute.predictor.attr_score.weight": background_last,
    "attribute.predictor.attr_score.bias": background_last,
}


def build_key_map(depth: int = 152, attributes: bool = True) -> dict[str, str]:
    """The explicit map {maskrcnn_benchmark key: detectron2 key} of a VinVL-style C4 detector.

    Args:
        depth: ResNet(-Xt) depth: 152 for VinVL, 50 or 101 for its smaller relatives.
        attributes: include the attribute head.
    """
    keys = {"backbone.body.stem.conv1.weight": "backbone.stem.conv1.weight"}
    keys |= {f"backbone.body.stem.bn1.{name}": f"backbone.stem.conv1.norm.{name}" for name in NORM_TENSORS}
    for stage, blocks in zip(range(2, 6), BLOCKS_PER_STAGE[depth], strict=True):
        theirs = "roi_heads.box.feature_extractor.head.layer4" if stage == 5 else f"backbone.body.layer{stage - 1}"
        ours = "roi_heads.res5" if stage == 5 else f"backbone.res{stage}"
        for index in range(blocks):
            for child, target in _BLOCK.items():
                if child.startswith("downsample") and index > 0:
                    continue  # only the first block of a stage projects its shortcut
                names = ("weight",) if "norm" not in target else NORM_TENSORS
                keys |= {f"{theirs}.{index}.{child}.{name}": f"{ours}.{index}.{target}.{name}" for name in names}
    heads = _HEADS | _ATTRIBUTE_HEAD if attributes else _HEADS
    for theirs, ours in heads.items():
        keys |= {f"{theirs}.weight": f"{ours}.weight", f"{theirs}.bias": f"{ours}.bias"}
    if attributes:
        keys["attribute.predictor.cls_embedding.weight"] = "roi_heads.attribute_head.class_embedding.weight"
    return keys


def convert_vinvl_state_dict(
    state_dict: Mapping[str, torch.Tensor], depth: int = 152, attributes: bool | None = None
) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Renames (and re-lays) a VinVL detector state dict for the detectron2 backend.

    Args:
        state_dict: maskrcnn_benchmark names, with or without the `module.` prefix.
        depth: ResNet(-Xt) depth of the source net.
        attributes: whether to expect the attribute head; None infers it from `attribute.predictor.fc_attr.weight`.

    Returns:
        the detectron2 state dict and the report of missing, unexpected and ignored source keys.
    """
    source = {key.removeprefix("module."): value for key, value in state_dict.items()}
    ignored = sorted(key for key in source if key.startswith(_IGNORED_PREFIXES))
    source = {key: value for key, value in source.items() if not key.startswith(_IGNORED_PREFIXES)}
    if attributes is None:
        attributes = "attribute.predictor.fc_attr.weight" in source
    converted, missing, unexpected = apply_key_map(source, build_key_map(depth, attributes), _TRANSFORMS)
    return converted, ConversionReport(missing=missing, unexpected=sorted(unexpected), ignored=ignored)


def is_vinvl_state_dict(state_dict: Mapping[str, object]) -> bool:
    """True when the keys are maskrcnn_benchmark names (judged by the stem conv)."""
    return any(key.removeprefix("module.") == "backbone.body.stem.conv1.weight" for key in state_dict)
