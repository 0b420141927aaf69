"""Outlines of the shapes as polygons, scaled to fill an object's box exactly.

Every outline spans its unit square from edge to edge, so the box an object is placed in is also the tight bounding box
of what is drawn: the COCO `bbox` and the `segmentation` polygon agree.
"""

from __future__ import annotations

import math

Point = tuple[float, float]


def _regular(vertices: int, radii: tuple[float, ...], start: float = -math.pi / 2) -> list[Point]:
    """Vertices around the origin, cycling through `radii` (two radii make a star), first one straight up."""
    step = 2 * math.pi / vertices
    return [
        (radii[i % len(radii)] * math.cos(start + i * step), radii[i % len(radii)] * math.sin(start + i * step))
        for i in range(vertices)
    ]


def _fill_unit_square(points: list[Point]) -> tuple[Point, ...]:
    """Stretches a polygon so that its extent is exactly [0, 1] x [0, 1]."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0, dx, dy = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    return tuple(((x - x0) / dx, (y - y0) / dy) for x, y in points)


# The plus-shaped cross on a 3 x 3 grid: arms one third wide.
_CROSS_IN_THIRDS = ((1, 0), (2, 0), (2, 1), (3, 1), (3, 2), (2, 2), (2, 3), (1, 3), (1, 2), (0, 2), (0, 1), (1, 1))
# Unit-square outlines, y pointing down as in image coordinates.
UNIT_OUTLINES: dict[str, tuple[Point, ...]] = {
    "circle": _fill_unit_square(_regular(32, (1.0,))),
    "square": ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)),
    "triangle": ((0.5, 0.0), (1.0, 1.0), (0.0, 1.0)),
    "star": _fill_unit_square(_regular(10, (1.0, 0.42))),
    "diamond": ((0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)),
    "hexagon": ((0.25, 0.0), (0.75, 0.0), (1.0, 0.5), (0.75, 1.0), (0.25, 1.0), (0.0, 0.5)),
    "cross": tuple((u / 3, v / 3) for u, v in _CROSS_IN_THIRDS),
}


def outline(shape: str, box: tuple[int, int, int, int]) -> list[Point]:
    """The polygon of `shape` drawn in `box`.

    Args:
        shape: a key of `UNIT_OUTLINES`.
        box: (x, y, w, h) in pixels.

    Returns:
        The vertices in pixels, in drawing order.
    """
    x, y, w, h = box
    return [(x + u * w, y + v * h) for u, v in UNIT_OUTLINES[shape]]


def polygon_area(points: list[Point]) -> float:
    """Area enclosed by a simple polygon (shoelace formula)."""
    doubled = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True))
    return abs(doubled) / 2
