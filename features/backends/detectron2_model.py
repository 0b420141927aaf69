"""The bottom-up-attention detector assembled from detectron2 parts (imported only by `detectron2.py`).

detectron2's C4 Faster R-CNN with four changes, each switched by a `MODEL.BUTD` key or an existing detectron2 key:
- `MODEL.BUTD.CAFFE_MAXPOOL`: the stem's max pool without padding and rounding up, as Caffe pools;
- `MODEL.BUTD.CAFFE_ANCHORS`: anchors with Caffe's rounded sides, ordered aspect ratio major;
- `MODEL.RESNETS.RES5_DILATION: 2`: res5 in the RoI head keeps stride 1 and dilates its 3x3 convs, so a 14x14 pool
  stays 14x14 (bottom-up-attention), where detectron2's head halves it;
- `MODEL.BUTD.ATTRIBUTE_ON`: the attribute head, conditioned on the object class through a class embedding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from detectron2.config import CfgNode, configurable
from detectron2.layers import CNNBlockBase, ShapeSpec
from detectron2.modeling import GeneralizedRCNN
from detectron2.modeling.anchor_generator import BufferList, DefaultAnchorGenerator
from detectron2.modeling.backbone import ResNet, build_resnet_backbone
from detectron2.modeling.backbone.resnet import BottleneckBlock
from detectron2.modeling.proposal_generator import RPN
from detectron2.modeling.roi_heads import Res5ROIHeads
from detectron2.structures import Boxes
from torch import nn


def add_butd_config(cfg: CfgNode) -> CfgNode:
    """Adds the `MODEL.BUTD` keys (defaults: plain detectron2 behaviour, no attribute head) to a detectron2 config."""
    cfg.MODEL.BUTD = CfgNode()
    cfg.MODEL.BUTD.CAFFE_MAXPOOL = False
    cfg.MODEL.BUTD.CAFFE_ANCHORS = False
    cfg.MODEL.BUTD.ATTRIBUTE_ON = False
    cfg.MODEL.BUTD.NUM_ATTRIBUTES = 400
    cfg.MODEL.BUTD.CLASS_EMBED_DIM = 256
    cfg.MODEL.BUTD.ATTRIBUTE_HIDDEN_DIM = 512
    return cfg


class CaffeMaxPoolStem(CNNBlockBase):
    """ResNet stem whose 3x3/2 max pool has no padding and rounds its output size up (Caffe's pooling)."""

    def __init__(self, conv1: nn.Module):
        """Args: conv1: the stem's 7x7/2 conv with its norm, as detectron2 built it (names stay `stem.conv1.*`)."""
        super().__init__(conv1.in_channels, conv1.out_channels, 4)
        self.conv1 = conv1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] -> [N, 64, H', W'] with H' = ceil((ceil(H / 2) - 3) / 2) + 1 (likewise W')."""
        return F.max_pool2d(F.relu_(self.conv1(x)), kernel_size=3, stride=2, padding=0, ceil_mode=True)


def build_backbone(cfg: CfgNode) -> ResNet:
    """detectron2's ResNet up to res4, with the Caffe stem when `MODEL.BUTD.CAFFE_MAXPOOL` is set."""
    backbone = build_resnet_backbone(cfg, ShapeSpec(channels=len(cfg.MODEL.PIXEL_MEAN)))
    if cfg.MODEL.BUTD.CAFFE_MAXPOOL:
        backbone.stem = CaffeMaxPoolStem(backbone.stem.conv1)
    return backbone


class CaffeAnchorGenerator(DefaultAnchorGenerator):
    """Anchors as Caffe's Faster R-CNN makes them: for each aspect ratio, each size (detectron2 nests the other way).

    A ratio's base box is the stride-sided square reshaped to that ratio with its sides rounded to whole pixels, then
    scaled by size / stride; so a 0.5 ratio at size 64 is 92 x 48 where detectron2 makes it 90.5 x 45.3. With
    `ANCHOR_GENERATOR.OFFSET: 0.5` the boxes sit where Caffe's do in continuous coordinates.
    """

    def _calculate_anchors(self, sizes: list[list[float]], aspect_ratios: list[list[float]]) -> BufferList:
        # Overridden whole (rather than generate_cell_anchors) because the base box depends on each level's stride.
        levels = zip(self.strides, sizes, aspect_ratios, strict=True)
        return BufferList([caffe_cell_anchors(stride, level_sizes, ratios) for stride, level_sizes, ratios in levels])


def caffe_cell_anchors(stride: int, sizes: list[float], aspect_ratios: list[float]) -> torch.Tensor:
    """[len(aspect_ratios) * len(sizes), 4] boxes x1, y1, x2, y2 centred on (0, 0), aspect ratio major."""
    anchors = []
    for ratio in aspect_ratios:
        # Python's round halves to even, like numpy's in Caffe Faster R-CNN's generate_anchors.
        base_w = round(math.sqrt(stride * stride / ratio))
        base_h = round(base_w * ratio)
        for size in sizes:
            w, h = base_w * size / stride, base_h * size / stride
            anchors.append([-w / 2, -h / 2, w / 2, h / 2])
    return torch.tensor(anchors, dtype=torch.float32)


def build_rpn(cfg: CfgNode, input_shape: dict[str, ShapeSpec]) -> RPN:
    """detectron2's RPN, with the Caffe anchors when `MODEL.BUTD.CAFFE_ANCHORS` is set."""
    args = RPN.from_config(cfg, input_shape)
    if cfg.MODEL.BUTD.CAFFE_ANCHORS:
        shapes = [input_shape[name] for name in cfg.MODEL.RPN.IN_FEATURES]
        args["anchor_generator"] = CaffeAnchorGenerator(cfg, shapes)
    return RPN(**args)


class AttributeHead(nn.Module):
    """Attribute classifier conditioned on the object class (bottom-up-attention's `cls_embedding`/`fc_attr`).

    logits = score(relu(fc([pooled, class_embedding(label)]))), with the "no attribute" class last.
    """

    def __init__(self, in_channels: int, num_classes: int, num_attributes: int, embed_dim: int, hidden_dim: int):
        """Args: `num_classes` and `num_attributes` without background / "no attribute" (each head adds one)."""
        super().__init__()
        self.class_embedding = nn.Embedding(num_classes + 1, embed_dim)
        self.fc = nn.Linear(in_channels + embed_dim, hidden_dim)
        self.score = nn.Linear(hidden_dim, num_attributes + 1)
        for layer in (self.class_embedding, self.fc, self.score):
            nn.init.normal_(layer.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)
        nn.init.zeros_(self.score.bias)

    def forward(self, pooled: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """[K, D] pooled features and [K] class indices -> [K, A + 1] attribute logits."""
        hidden = self.fc(torch.cat([pooled, self.class_embedding(labels)], dim=1))
        return self.score(F.relu(hidden))


class ButdRes5ROIHeads(Res5ROIHeads):
    """C4 RoI head: RoI pooling, res5 (optionally dilated), mean pooling, box predictor and the attribute head."""

    @configurable
    def __init__(self, *, attribute_head: AttributeHead | None = None, **kwargs):
        """Args: attribute_head: None for a detector without attributes; the rest as `Res5ROIHeads`."""
        super().__init__(**kwargs)
        self.attribute_head = attribute_head

    @classmethod
    def from_config(cls, cfg: CfgNode, input_shape: dict[str, ShapeSpec]) -> dict:
        args = super().from_config(cfg, input_shape)
        if cfg.MODEL.BUTD.ATTRIBUTE_ON:
            args["attribute_head"] = AttributeHead(
                in_channels=args["box_predictor"].cls_score.in_features,
                num_classes=cfg.MODEL.ROI_HEADS.NUM_CLASSES,
                num_attributes=cfg.MODEL.BUTD.NUM_ATTRIBUTES,
                embed_dim=cfg.MODEL.BUTD.CLASS_EMBED_DIM,
                hidden_dim=cfg.MODEL.BUTD.ATTRIBUTE_HIDDEN_DIM,
            )
        return args

    @classmethod
    def _build_res5_block(cls, cfg: CfgNode) -> tuple[nn.Sequential, int]:
        res = cfg.MODEL.RESNETS
        dilation = res.RES5_DILATION
        blocks = ResNet.make_stage(
            BottleneckBlock,
            3,
            # A dilated res5 replaces its stride: the bottom-up-attention head keeps the 14x14 RoI grid.
            stride_per_block=[2 if dilation == 1 else 1, 1, 1],
            in_channels=res.RES2_OUT_CHANNELS * 4,
            bottleneck_channels=res.NUM_GROUPS * res.WIDTH_PER_GROUP * 8,
            out_channels=res.RES2_OUT_CHANNELS * 8,
            num_groups=res.NUM_GROUPS,
            norm=res.NORM,
            stride_in_1x1=res.STRIDE_IN_1X1,
            dilation=dilation,
        )
        return nn.Sequential(*blocks), res.RES2_OUT_CHANNELS * 8

    def pooled_features(self, features: dict[str, torch.Tensor], boxes: list[Boxes]) -> torch.Tensor:
        """The region features: res5 over each box's RoI pool, averaged over space.

        Args:
            features: backbone outputs by name, each [N, C, H, W].
            boxes: N Boxes in the input image's (resized) coordinates.

        Returns:
            [sum of boxes, D] with D = 8 * RES2_OUT_CHANNELS (2048 for ResNet-101).
        """
        return self._shared_roi_transform([features[name] for name in self.in_features], boxes).mean(dim=(2, 3))


def build_butd_model(cfg: CfgNode) -> GeneralizedRCNN:
    """The detector of a config extended by `add_butd_config`, with freshly initialised weights.

    The parts are passed to `GeneralizedRCNN` directly rather than through detectron2's registries, so nothing is
    registered globally; the module names (`backbone.*`, `proposal_generator.*`, `roi_heads.*`) are detectron2's,
    and detectron2 checkpoints of the same architecture load as they are.
    """
    backbone = build_backbone(cfg)
    shapes = backbone.output_shape()
    model = GeneralizedRCNN(
        backbone=backbone,
        proposal_generator=build_rpn(cfg, shapes),
        roi_heads=ButdRes5ROIHeads(cfg, shapes),
        pixel_mean=cfg.MODEL.PIXEL_MEAN,
        pixel_std=cfg.MODEL.PIXEL_STD,
        input_format=cfg.INPUT.FORMAT,
    )
    # Each residual branch starts at zero (its last norm scales by 0), so that until weights are loaded the 30-odd
    # blocks keep activations near the input's scale; otherwise random features reach ~1e6, past float16's range.
    for block in model.modules():
        if isinstance(block, BottleneckBlock):
            nn.init.zeros_(block.conv3.norm.weight)
    return model
