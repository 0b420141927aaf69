"""Box geometry vectors the model takes beside region features.

Oscar/VinVL append a 6-d vector to the 2048-d feature (their 2054-d input); UNITER projects a 7-d vector that adds the
relative area.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

GeometryStyle = Literal["oscar", "uniter"]
GEOMETRY_DIMS: dict[str, int] = {"oscar": 6, "uniter": 7}


def box_geometry(boxes: np.ndarray, image_size: tuple[int, int], style: GeometryStyle = "oscar") -> np.ndarray:
    """Normalised box geometry.

    Args:
        boxes: [K, 4] pixel boxes x1, y1, x2, y2.
        image_size: (height H, width W) of the image.
        style: "oscar" gives [K, 6] `[x1/W, y1/H, x2/W, y2/H, w/W, h/H]`; "uniter" gives [K, 7], the same plus
            `w*h/(W*H)`.

    Returns:
        [K, 6] or [K, 7] float32.
    """
    if style not in GEOMETRY_DIMS:
        raise ValueError(f"unknown geometry style {style!r}, expected one of {sorted(GEOMETRY_DIMS)}")
    height, width = float(image_size[0]), float(image_size[1])
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scale = np.array([width, height, width, height], dtype=np.float32)
    corners = boxes / scale
    w = corners[:, 2:3] - corners[:, 0:1]
    h = corners[:, 3:4] - corners[:, 1:2]
    parts = [corners, w, h] if style == "oscar" else [corners, w, h, w * h]
    return np.concatenate(parts, axis=1).astype(np.float32)
