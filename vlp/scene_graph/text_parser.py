"""Caption scene graphs: read from a corpus that ships them, or parsed by a small rule-based parser.

The parser knows nouns from a vocabulary (the detector's label names passed in, plus a built-in list of common object
nouns, generic nouns and geometric shapes, each in singular or plural), adjectives from a built-in list (colours, sizes,
materials and other common attributes, plus any passed in), and relation phrases from a built-in list of prepositions
and a few verbs. Its rules:

- a noun mention is the longest vocabulary phrase at a position ("plus sign", "tennis racket" before "sign");
- of two adjacent nouns the first modifies the second ("an orange circle", "a glass table") and becomes its attribute;
- adjectives (with intensifiers and "and" / "," between them) right before a noun are its attributes, and so are
  adjectives after "<noun> is/are" ("the ball is red");
- a relation phrase links the nearest object before it to the first object after it, when only determiners, numbers
  and the second object's adjectives lie between the phrase and that object;
- "picture", "image", "photo", ... followed by "of" or "shows" describe the caption itself, not an object.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from vlp.scene_graph.graph import Span, TextAttribute, TextGraph, TextObject, TextRelation
from vlp.scene_graph.similarity import lemmas

# Common object nouns of captions (COCO categories, frequent Visual Genome objects), generic nouns and shapes. Words
# that also act as adjectives or in relation phrases ("light", "top", "front", "side", "left") are left out on purpose.
_NOUN_WORDS = """
person man woman boy girl child kid baby guy lady player people crowd family friend couple
bicycle bike car motorcycle airplane plane jet bus train truck boat ship van taxi cart wheel tire
bench bird cat dog puppy horse sheep cow elephant bear zebra giraffe animal duck pigeon goose
backpack umbrella handbag purse bag tie suitcase luggage frisbee skis ski snowboard kite skateboard surfboard board
bottle cup mug glass bowl plate fork knife spoon napkin tray jar pot pan
banana apple sandwich orange broccoli carrot pizza donut doughnut cake cookie bread cheese meat food fruit vegetable
salad egg tomato onion potato sauce
chair couch sofa bed table desk toilet tv television laptop computer monitor screen mouse remote keyboard phone
microwave oven toaster sink refrigerator fridge stove counter cabinet drawer shelf book clock vase scissors toothbrush
lamp pillow blanket curtain rug carpet mirror towel basket box
tree plant flower bush grass leaf branch field lawn garden park forest mountain hill rock stone sand beach ocean sea
lake river water wave sky cloud sun snow ice road street sidewalk path track fence wall floor ceiling roof window door
building house tower bridge pole post sign signal kitchen room bathroom
shirt jacket coat hat cap helmet glasses sunglasses shoe boot sock pants jeans shorts dress skirt uniform suit glove
hand head face hair arm leg foot eye nose mouth ear
ball bat racket net goal
object shape thing item figure
circle disc disk square rectangle triangle star diamond rhombus hexagon pentagon octagon oval ellipse cross heart
arrow dot ring sphere cube cone cylinder pyramid block
"""
_NOUN_PHRASES = (
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "sports ball",
    "baseball bat",
    "baseball glove",
    "tennis racket",
    "wine glass",
    "hot dog",
    "potted plant",
    "dining table",
    "cell phone",
    "teddy bear",
    "hair drier",
    "hair dryer",
    "plus sign",
    "tennis ball",
    "street sign",
    "fire truck",
    "ice cream",
)
BUILTIN_NOUNS: frozenset[str] = frozenset(_NOUN_WORDS.split()) | frozenset(_NOUN_PHRASES)

_ADJECTIVE_WORDS = """
red orange yellow green blue purple violet pink brown black white gray grey silver gold golden beige tan
dark light bright pale colorful colourful striped spotted checkered plain
small little tiny large big huge giant tall short long wide narrow thick thin medium
wooden metal metallic plastic stone brick leather paper
young old new open closed empty full round flat clean dirty wet dry shiny fresh ripe sliced cooked hot cold
happy smiling parked
"""
BUILTIN_ADJECTIVES: frozenset[str] = frozenset(_ADJECTIVE_WORDS.split())
INTENSIFIERS: frozenset[str] = frozenset({"very", "really", "quite", "rather", "fairly", "extremely", "slightly"})
_DETERMINER_WORDS = """
a an the this that these those some any each every another other its his her their my your our several many few both
all no one two three four five six seven eight nine ten
"""
DETERMINERS: frozenset[str] = frozenset(_DETERMINER_WORDS.split())
COPULAS: frozenset[str] = frozenset({"is", "are", "was", "were", "looks", "look", "seems", "appears"})
_COORDINATION = frozenset({"and", ","})
# Nouns that describe the caption's medium when followed by one of these words ("a picture of", "this image shows").
META_NOUNS: frozenset[str] = frozenset({"picture", "image", "photo", "photograph", "drawing", "view", "shot", "scene"})
_META_FOLLOWERS = frozenset({"of", "shows", "showing", "depicts", "depicting", "contains", "containing"})

RELATION_PHRASES: tuple[str, ...] = (
    "to the left of",
    "to the right of",
    "on the left of",
    "on the right of",
    "on the left side of",
    "on the right side of",
    "left of",
    "right of",
    "on top of",
    "in front of",
    "in the middle of",
    "next to",
    "close to",
    "across from",
    "above",
    "over",
    "below",
    "under",
    "underneath",
    "beneath",
    "behind",
    "beside",
    "near",
    "by",
    "on",
    "in",
    "inside",
    "at",
    "with",
    "against",
    "along",
    "around",
    "holding",
    "wearing",
    "riding",
    "carrying",
)


def _index(phrases: Collection[str]) -> dict[tuple[str, ...], str]:
    """Phrase word tuples (lowercased) to the phrase, for longest-match lookups."""
    return {tuple(p.lower().split()): p for p in phrases if p.strip()}


_BUILTIN_NOUN_INDEX = _index(BUILTIN_NOUNS)
_RELATION_INDEX = _index(RELATION_PHRASES)


def _match_noun(words: Sequence[str], start: int, nouns: Mapping[tuple[str, ...], str], longest: int) -> int:
    """End of the longest noun phrase starting at `start` (its last word in any inflection), or `start` if none."""
    for length in range(min(longest, len(words) - start), 0, -1):
        *head, last = words[start : start + length]
        if any((*head, form) in nouns for form in lemmas(last)):
            return start + length
    return start


def _match_phrase(words: Sequence[str], start: int, phrases: Mapping[tuple[str, ...], str], longest: int) -> int:
    """End of the longest phrase of `phrases` starting at `start`, or `start` if none."""
    for length in range(min(longest, len(words) - start), 0, -1):
        if tuple(words[start : start + length]) in phrases:
            return start + length
    return start


def _noun_mentions(words: Sequence[str], nouns: Mapping[tuple[str, ...], str]) -> list[Span]:
    """Non-overlapping noun spans, left to right, each the longest match at its position."""
    longest = max((len(k) for k in nouns), default=0)
    spans, position = [], 0
    while position < len(words):
        end = _match_noun(words, position, nouns, longest)
        if end > position:
            spans.append((position, end))
            position = end
        else:
            position += 1
    return spans


def _is_predicative(words: Sequence[str], start: int) -> bool:
    """Whether position `start` follows "<copula> [intensifier]" directly (no determiner): "the ball is [orange]"."""
    position = start - 1
    while position >= 0 and words[position] in INTENSIFIERS:
        position -= 1
    return position >= 0 and words[position] in COPULAS


def _adjective_run_left(words: Sequence[str], end: int, adjectives: Collection[str]) -> list[int]:
    """Positions of the adjectives right before `end`, across intensifiers and "and" / "," between adjectives."""
    found: list[int] = []
    position = end - 1
    while position >= 0:
        word = words[position]
        if word in adjectives:
            found.append(position)
        elif not (
            word in INTENSIFIERS
            or (word in _COORDINATION and found and position > 0 and words[position - 1] in adjectives)
        ):
            break
        position -= 1
    return found[::-1]


def _adjective_run_right(words: Sequence[str], start: int, adjectives: Collection[str]) -> tuple[list[int], int]:
    """Positions of the adjectives from `start` on (with intensifiers and coordination), and where the run ends."""
    found: list[int] = []
    position = start
    while position < len(words):
        word = words[position]
        if word in adjectives:
            found.append(position)
        elif not (word in INTENSIFIERS or (word in _COORDINATION and position + 1 < len(words) and found)):
            break
        position += 1
    # A trailing "and" / "," belongs to what follows, not to the run.
    end = found[-1] + 1 if found else start
    return found, end


def parse_caption(
    tokens: Sequence[str],
    nouns: Collection[str] = (),
    adjectives: Collection[str] = (),
    relations: Collection[str] = RELATION_PHRASES,
) -> TextGraph:
    """Parses a tokenised caption into objects, attributes and relations.

    Args:
        tokens: the caption's words, punctuation as separate tokens (e.g. `vlp.world.tokenize_caption`); spans index
            this list.
        nouns: extra object nouns, normally the detector's label names; added to `BUILTIN_NOUNS`.
        adjectives: extra attribute words, e.g. the detector's attribute names; added to `BUILTIN_ADJECTIVES`.
        relations: relation phrases to look for.

    Returns:
        The caption's graph; object names and attribute and relation words as written (lowercased).
    """
    words = [t.lower() for t in tokens]
    noun_index = {**_BUILTIN_NOUN_INDEX, **_index(nouns)} if nouns else _BUILTIN_NOUN_INDEX
    adjective_set = BUILTIN_ADJECTIVES | {a.lower() for a in adjectives}
    mentions = _noun_mentions(words, noun_index)
    starts = {start for start, _ in mentions}

    def leads_to_noun(position: int) -> bool:
        """Whether adjectives from `position` on end at a noun mention (then they are attributive)."""
        _, end = _adjective_run_right(words, position, adjective_set)
        return end in starts

    # Adjective-nouns said of something ("the ball is orange") and captions' self-references are not objects.
    mentions = [
        (s, e)
        for s, e in mentions
        if not (e - s == 1 and words[s] in adjective_set and _is_predicative(words, s) and not leads_to_noun(e))
        and not (words[s] in META_NOUNS and e < len(words) and words[e] in _META_FOLLOWERS)
    ]
    # Of adjacent nouns only the last is the object; the ones before it modify it ("an orange circle").
    groups: list[list[Span]] = []
    for span in mentions:
        if groups and groups[-1][-1][1] == span[0]:
            groups[-1].append(span)
        else:
            groups.append([span])

    attributes: list[TextAttribute] = []
    for index, group in enumerate(groups):
        *modifiers, (_, end) = group
        spans = [(p, p + 1) for p in _adjective_run_left(words, group[0][0], adjective_set)] + modifiers
        if end < len(words) and words[end] in COPULAS:
            position = end
            while position < len(words) and words[position] in COPULAS:
                position += 1
            found, run_end = _adjective_run_right(words, position, adjective_set)
            if run_end not in starts:
                spans += [(p, p + 1) for p in found]
        attributes += [TextAttribute(index, " ".join(words[s:e]), (s, e)) for s, e in spans]
    attributes.sort(key=lambda a: a.span)

    heads = [group[-1] for group in groups]
    objects = tuple(TextObject(" ".join(words[s:e]), (s, e)) for s, e in heads)
    return TextGraph(tuple(tokens), objects, tuple(attributes), tuple(_relations(words, heads, attributes, relations)))


def _relations(
    words: Sequence[str], heads: Sequence[Span], attributes: Sequence[TextAttribute], phrases: Collection[str]
) -> list[TextRelation]:
    """Relation phrases between the nearest object before them and the first object right after them."""
    phrase_index = _RELATION_INDEX if phrases is RELATION_PHRASES else _index(phrases)
    longest = max((len(k) for k in phrase_index), default=0)
    taken = {p for s, e in heads for p in range(s, e)} | {p for a in attributes for p in range(*a.span)}
    own_attributes = {p: a.object for a in attributes for p in range(*a.span)}
    relations: list[TextRelation] = []
    position = 0
    while position < len(words):
        end = _match_phrase(words, position, phrase_index, longest) if position not in taken else position
        if end == position:
            position += 1
            continue
        before = [k for k, (_, e) in enumerate(heads) if e <= position]
        after = [k for k, (s, _) in enumerate(heads) if s >= end]
        if before and after:
            subject, target = before[-1], after[0]
            gap = range(end, heads[target][0])
            if all(words[p] in DETERMINERS | INTENSIFIERS or own_attributes.get(p) == target for p in gap):
                relations.append(TextRelation(subject, target, " ".join(words[position:end]), (position, end)))
        position = end
    return relations


def text_graph_from_gold(graph_json: Mapping[str, Any]) -> TextGraph:
    """Reads a caption's graph as a corpus ships it (the demo world's `scene_graphs_<split>.json` entries).

    Args:
        graph_json: one entry of the file's `graphs` list: `tokens`; `objects` with `id`, `name`, `span`;
            `attributes` with `object`, `name`, `span`; `relations` with `subject`, `object`, `predicate`, `span`.
            Object ids may be any distinct values; attributes and relations refer to them.

    Returns:
        The graph, objects in the order of their ids.
    """
    gold_objects = sorted(graph_json.get("objects", []), key=lambda o: o["id"])
    index = {o["id"]: k for k, o in enumerate(gold_objects)}
    return TextGraph(
        tokens=tuple(graph_json["tokens"]),
        objects=tuple(TextObject(o["name"], (int(o["span"][0]), int(o["span"][1]))) for o in gold_objects),
        attributes=tuple(
            TextAttribute(index[a["object"]], a["name"], (int(a["span"][0]), int(a["span"][1])))
            for a in graph_json.get("attributes", [])
        ),
        relations=tuple(
            TextRelation(
                index[r["subject"]], index[r["object"]], r["predicate"], (int(r["span"][0]), int(r["span"][1]))
            )
            for r in graph_json.get("relations", [])
        ),
    )
