"""The bottom-up-attention Visual Genome detector (Anderson et al. 2018) in detectron2's module names.

The public weights are a Caffe model (`resnet101_faster_rcnn_final.caffemodel`, net `models/vg/ResNet-101/
faster_rcnn_end2end_final/test.prototxt`). Exported to a torch state dict they keep the Caffe layer names, one key per
blob: `{layer}.weight` / `{layer}.bias` for Convolution, InnerProduct, Embed and Scale layers, and
`{layer}.running_mean` / `{layer}.running_var` for BatchNorm layers (already divided by Caffe's moving-average factor).
Two spellings seen in public exports are accepted as well: `rpn_conv_3x3.*` for `rpn_conv/3x3.*`, and BatchNorm and
Scale merged into one `torch.nn.BatchNorm2d` named after the BatchNorm layer (`bn2a_branch1.weight` for
`scale2a_branch1.weight`, plus a `num_batches_tracked` that carries nothing).

Besides renaming, five tensors change layout (see `_TRANSFORMS`): Caffe puts the background class first and detectron2
last; Caffe's RPN scores each anchor with a 2-way softmax where detectron2 uses one sigmoid logit; Caffe's box regressor
has rows for the background class, detectron2's does not. The anchor order (aspect ratio major, scale minor) is kept
by the backend's Caffe-style anchor generator, so the RPN channels need no permutation.

This module is plain torch: it never imports detectron2, so the map can be tested anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import torch

from features.weights.layout import (
    ConversionReport,
    apply_key_map,
    background_last,
    drop_background_boxes,
)

# Bottleneck blocks per stage of the Caffe ResNets (res2..res5); res5 lives in the RoI head of the C4 detector.
BLOCKS_PER_STAGE: dict[int, tuple[int, int, int, int]] = {101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

# A Caffe bottleneck's branches -> detectron2's BottleneckBlock children.
_BRANCHES: dict[str, str] = {"branch1": "shortcut", "branch2a": "conv1", "branch2b": "conv2", "branch2c": "conv3"}

# The non-ResNet layers: Caffe name -> detectron2 module, each with a weight and a bias.
_HEAD_LAYERS: dict[str, str] = {
    "rpn_conv/3x3": "proposal_generator.rpn_head.conv",
    "rpn_cls_score": "proposal_generator.rpn_head.objectness_logits",
    "rpn_bbox_pred": "proposal_generator.rpn_head.anchor_deltas",
    "cls_score": "roi_heads.box_predictor.cls_score",
    "bbox_pred": "roi_heads.box_predictor.bbox_pred",
    "fc_attr": "roi_heads.attribute_head.fc",
    "attr_score": "roi_heads.attribute_head.score",
}
_EMBEDDINGS: dict[str, str] = {"cls_embedding.weight": "roi_heads.attribute_head.class_embedding.weight"}

# Source keys that exist in some exports and carry no weights.
_IGNORED_SUFFIXES = (".num_batches_tracked",)


def block_names(blocks: int) -> list[str]:
    """Caffe's names of a stage's blocks: letters for stages of up to 3 blocks, else a, b1, b2...

    Args:
        blocks: number of bottleneck blocks in the stage.

    Returns:
        names such as ["a", "b", "c"] or ["a", "b1", ..., "b22"].
    """
    if blocks <= 3:
        return ["a", "b", "c"][:blocks]
    return ["a"] + [f"b{index}" for index in range(1, blocks)]


def _conv_norm_keys(conv: str, norm_suffix: str, target: str) -> dict[str, str]:
    """The five keys of one Caffe Convolution + BatchNorm + Scale triple -> a detectron2 Conv2d with a norm."""
    return {
        f"{conv}.weight": f"{target}.weight",
        f"bn{norm_suffix}.running_mean": f"{target}.norm.running_mean",
        f"bn{norm_suffix}.running_var": f"{target}.norm.running_var",
        f"scale{norm_suffix}.weight": f"{target}.norm.weight",
        f"scale{norm_suffix}.bias": f"{target}.norm.bias",
    }


def build_key_map(depth: int = 101, attributes: bool = True) -> dict[str, str]:
    """The explicit map {Caffe bottom-up-attention key: detectron2 key} of the VG Faster R-CNN C4.

    Args:
        depth: 101 (the public model) or 152.
        attributes: include the attribute head (`cls_embedding`, `fc_attr`, `attr_score`).

    Returns:
        one entry per tensor of the detector, in network order.
    """
    keys = _conv_norm_keys("conv1", "_conv1", "backbone.stem.conv1")
    for stage, blocks in zip(range(2, 6), BLOCKS_PER_STAGE[depth], strict=True):
        prefix = "roi_heads.res5" if stage == 5 else f"backbone.res{stage}"
        for index, letter in enumerate(block_names(blocks)):
            for branch, child in _BRANCHES.items():
                if branch == "branch1" and index > 0:
                    continue  # only the first block of a stage projects its shortcut
                name = f"{stage}{letter}_{branch}"
                keys |= _conv_norm_keys(f"res{name}", name, f"{prefix}.{index}.{child}")
    for layer, module in _HEAD_LAYERS.items():
        if not attributes and layer in ("fc_attr", "attr_score"):
            continue
        keys |= {f"{layer}.weight": f"{module}.weight", f"{layer}.bias": f"{module}.bias"}
    if attributes:
        keys |= _EMBEDDINGS
    return keys


def _softmax_pair_to_logit(tensor: torch.Tensor) -> torch.Tensor:
    """[2A, ...] -> [A, ...]: Caffe's RPN stacks A background scores, then A object scores.

    softmax([bg, fg])[fg] == sigmoid(fg - bg), so the difference of the two rows is an exact sigmoid logit.
    """
    anchors = tensor.shape[0] // 2
    return tensor[anchors:] - tensor[:anchors]


# Caffe key -> the change of layout its tensor needs on the way to detectron2.
_TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "rpn_cls_score.weight": _softmax_pair_to_logit,
    "rpn_cls_score.bias": _softmax_pair_to_logit,
    "cls_score.weight": background_last,
    "cls_score.bias": background_last,
    "bbox_pred.weight": drop_background_boxes,
    "bbox_pred.bias": drop_background_boxes,
    "cls_embedding.weight": background_last,
    "attr_score.weight": background_last,
    "attr_score.bias": background_last,
}


_MERGED_NORM = re.compile(r"^bn(?P<name>.+)\.(?P<param>weight|bias)$")


def canonical_key(key: str) -> str:
    """A source key in the spelling of `build_key_map` (see the module docstring for the alternatives)."""
    if key.startswith("rpn_conv_3x3."):
        return "rpn_conv/3x3." + key[len("rpn_conv_3x3.") :]
    merged = _MERGED_NORM.match(key)
    if merged:
        return f"scale{merged['name']}.{merged['param']}"
    return key


def convert_butd_state_dict(
    state_dict: Mapping[str, torch.Tensor], depth: int = 101, attributes: bool | None = None
) -> tuple[dict[str, torch.Tensor], ConversionReport]:
    """Renames (and re-lays) a bottom-up-attention state dict for the detectron2 backend.

    Args:
        state_dict: Caffe-named tensors (see the module docstring).
        depth: ResNet depth of the source net.
        attributes: whether to expect the attribute head; None infers it from the presence of `fc_attr.weight`.

    Returns:
        the detectron2 state dict and the report of missing, unexpected and ignored source keys.
    """
    source: dict[str, torch.Tensor] = {}
    duplicates = []  # two spellings of one tensor (say `bn2a_branch1.weight` and `scale2a_branch1.weight`)
    for key, value in state_dict.items():
        if key.endswith(_IGNORED_SUFFIXES):
            continue
        name = canonical_key(key)
        if name in source:
            duplicates.append(key)
        source[name] = value
    if attributes is None:
        attributes = "fc_attr.weight" in source
    converted, missing, unexpected = apply_key_map(source, build_key_map(depth, attributes), _TRANSFORMS)
    ignored = sorted(key for key in state_dict if key.endswith(_IGNORED_SUFFIXES))
    return converted, ConversionReport(missing=missing, unexpected=sorted(unexpected + duplicates), ignored=ignored)


def is_butd_state_dict(state_dict: Mapping[str, object]) -> bool:
    """True when the keys are Caffe bottom-up-attention names (judged by the first res2 conv)."""
    return "res2a_branch2a.weight" in state_dict
