"""Scenes: which objects an image holds, where they are, and the spatial relations between them.

Relations are defined on the boxes (x, y, w, h in pixels, y pointing down), crisply, so that every caption and answer
built from them can be re-checked from the COCO annotations alone:

- `a` is *left of* `b` when `a` ends before `b` starts horizontally: ``a.x + a.w <= b.x`` (*right of* mirrors it);
- `a` is *above* `b` when ``a.y + a.h <= b.y`` (*below* mirrors it);
- `a` is *next to* `b` when the gap between the boxes, ``max(horizontal gap, vertical gap)``, is at most
  `NEXT_TO_GAP` times the image side.

Boxes never touch (they are at least `MIN_GAP` pixels apart), so every pair has at least one directional relation and
every object is fully visible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vlp.world.vocabulary import ABOVE, BELOW, COLOURS, LEFT_OF, NEXT_TO, RIGHT_OF, SHAPES, SIZES

MIN_OBJECTS, MAX_OBJECTS = 2, 5
MIN_GAP = 2
NEXT_TO_GAP = 0.12
# Side of an object's box as a fraction of the image side; far apart so that small and large are never confused.
SIDE_RANGE: dict[str, tuple[float, float]] = {"small": (0.14, 0.19), "large": (0.27, 0.34)}
# Boxes are nearly square; a little aspect jitter keeps box geometry from being a constant.
ASPECT_JITTER = 0.1
# Per-channel jitter of an object's colour, so region features of one colour are not all the same.
COLOUR_JITTER = 12
# Tries to find a free spot for one object before leaving it out.
PLACEMENT_TRIES = 50


@dataclass(frozen=True)
class SceneObject:
    """One object of an image.

    Attributes:
        annotation_id: its COCO instance annotation id.
        shape: a name from `vocabulary.SHAPES` (also its COCO category name).
        colour: a name from `vocabulary.COLOURS`.
        size: "small" or "large".
        rgb: the jittered colour it is drawn in.
        box: (x, y, w, h) in pixels; the tight bounding box of the drawn shape.
    """

    annotation_id: int
    shape: str
    colour: str
    size: str
    rgb: tuple[int, int, int]
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class Scene:
    """An image's content: its COCO image id, its size in pixels and its objects."""

    image_id: int
    width: int
    height: int
    objects: tuple[SceneObject, ...]


def box_gap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    """Pixels between two boxes along the axis where they are farthest apart; negative when they overlap."""
    horizontal = max(b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]))
    vertical = max(b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]))
    return max(horizontal, vertical)


def relations(a: SceneObject, b: SceneObject, image_side: int) -> tuple[str, ...]:
    """Every relation that holds from `a` to `b` ("a is <relation> b"), in `vocabulary.RELATIONS` order."""
    (ax, ay, aw, ah), (bx, by, bw, bh) = a.box, b.box
    found = []
    if ax + aw <= bx:
        found.append(LEFT_OF)
    if bx + bw <= ax:
        found.append(RIGHT_OF)
    if ay + ah <= by:
        found.append(ABOVE)
    if by + bh <= ay:
        found.append(BELOW)
    if box_gap(a.box, b.box) <= NEXT_TO_GAP * image_side:
        found.append(NEXT_TO)
    return tuple(found)


def _sample_box(rng: np.random.Generator, size: str, side: int) -> tuple[int, int, int, int]:
    low, high = SIDE_RANGE[size]
    base = rng.uniform(low, high) * side
    w = round(base * rng.uniform(1 - ASPECT_JITTER, 1 + ASPECT_JITTER))
    h = round(base * rng.uniform(1 - ASPECT_JITTER, 1 + ASPECT_JITTER))
    # One pixel of margin keeps the rasterised outline inside the image.
    x = int(rng.integers(1, side - w - 1))
    y = int(rng.integers(1, side - h - 1))
    return x, y, w, h


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator) -> tuple[int, int, int]:
    shifted = np.clip(np.asarray(rgb) + rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, size=3), 0, 255)
    return int(shifted[0]), int(shifted[1]), int(shifted[2])


def sample_scene(rng: np.random.Generator, image_id: int, image_side: int, first_annotation_id: int) -> Scene:
    """Draws a square image's objects: their number, shapes, colours, sizes and non-touching boxes.

    Shape, colour and size are drawn independently and uniformly, so no attribute predicts another and questions about
    one cannot be answered from the others.

    Args:
        rng: the generator for this image's scene only.
        image_id: the COCO image id.
        image_side: width and height of the image in pixels.
        first_annotation_id: the annotation id of the first object; the others follow consecutively.

    Returns:
        A scene with `MIN_OBJECTS` to `MAX_OBJECTS` objects.
    """
    colours = tuple(COLOURS)
    while True:  # a crowded draw can leave fewer than MIN_OBJECTS placed; it is drawn again then
        wanted = int(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1))
        placed: list[SceneObject] = []
        for _ in range(wanted):
            shape = SHAPES[rng.integers(len(SHAPES))]
            colour = colours[rng.integers(len(colours))]
            size = SIZES[rng.integers(len(SIZES))]
            rgb = _jitter(COLOURS[colour], rng)
            for _ in range(PLACEMENT_TRIES):
                box = _sample_box(rng, size, image_side)
                if all(box_gap(box, other.box) >= MIN_GAP for other in placed):
                    placed.append(SceneObject(first_annotation_id + len(placed), shape, colour, size, rgb, box))
                    break
        if len(placed) >= MIN_OBJECTS:
            return Scene(image_id=image_id, width=image_side, height=image_side, objects=tuple(placed))
