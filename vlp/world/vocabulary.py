"""Words of the demo world: shapes, colours, sizes, relations, and the surface forms that captions use for them.

Canonical names (the keys below) are what the COCO categories, the instance attributes and the VQA answers use. Captions
draw on the synonyms so that a caption parser meets more than one word per concept, as it would in real captions.
"""

from __future__ import annotations

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond", "hexagon", "cross")

# Far apart in RGB and from the cream background, so that the per-object jitter (see scene.py) never makes two colours
# or a colour and the background hard to tell apart.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (210, 40, 40),
    "orange": (240, 140, 20),
    "yellow": (225, 200, 20),
    "green": (40, 160, 60),
    "blue": (40, 90, 215),
    "purple": (135, 55, 185),
    "brown": (125, 75, 35),
    "gray": (115, 115, 115),
}

SIZES: tuple[str, ...] = ("small", "large")

# Spatial relations between two objects; scene.py gives their geometric definitions.
LEFT_OF, RIGHT_OF, ABOVE, BELOW, NEXT_TO = "left of", "right of", "above", "below", "next to"
RELATIONS: tuple[str, ...] = (LEFT_OF, RIGHT_OF, ABOVE, BELOW, NEXT_TO)
DIRECTIONAL_RELATIONS: tuple[str, ...] = (LEFT_OF, RIGHT_OF, ABOVE, BELOW)
INVERSE: dict[str, str] = {LEFT_OF: RIGHT_OF, RIGHT_OF: LEFT_OF, ABOVE: BELOW, BELOW: ABOVE}

SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "disc"),
    "square": ("square",),
    "triangle": ("triangle",),
    "star": ("star",),
    "diamond": ("diamond", "rhombus"),
    "hexagon": ("hexagon",),
    "cross": ("cross", "plus sign"),
}
COLOUR_WORDS: dict[str, tuple[str, ...]] = {colour: (colour,) for colour in COLOURS} | {"gray": ("gray", "grey")}
SIZE_WORDS: dict[str, tuple[str, ...]] = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
RELATION_WORDS: dict[str, tuple[str, ...]] = {
    LEFT_OF: ("to the left of", "left of", "on the left of"),
    RIGHT_OF: ("to the right of", "right of", "on the right of"),
    ABOVE: ("above", "over"),
    BELOW: ("below", "under", "beneath"),
    NEXT_TO: ("next to", "beside", "near"),
}
# Nouns for an object whose shape a caption leaves out ("a small red object").
GENERIC_NOUNS: tuple[str, ...] = ("object", "shape", "thing")

NUMBER_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five")


def plural(noun: str) -> str:
    """English plural of a shape noun or a generic noun ("cross" -> "crosses", "plus sign" -> "plus signs")."""
    return noun + "es" if noun.endswith(("s", "x")) else noun + "s"


def article(next_word: str) -> str:
    """The indefinite article before `next_word` ("an orange circle", "a hexagon"); enough for this vocabulary."""
    return "an" if next_word[0] in "aeiou" else "a"
