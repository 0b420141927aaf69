"""The words of an image's region tags, Oscar's text b: object names, optionally led by their attribute names."""

from __future__ import annotations

from collections.abc import Sequence


def tag_words(label_names: Sequence[str], attribute_names: Sequence[Sequence[str]] | None = None) -> list[str]:
    """The tags of regions as one word sequence, in region order.

    Args:
        label_names: [K] each region's object name (may be several words, e.g. "stop sign").
        attribute_names: [K] each region's attribute names, put before its object name the way a detector with an
            attribute head labels a box ("green small star"); None for object names only (Oscar's tags).

    Raises:
        ValueError: the two lists differ in length.
    """
    if attribute_names is None:
        return [word for name in label_names for word in name.split()]
    if len(attribute_names) != len(label_names):
        raise ValueError(f"{len(label_names)} region labels but {len(attribute_names)} attribute lists")
    return [
        word
        for name, attributes in zip(label_names, attribute_names, strict=True)
        for phrase in (*attributes, name)
        for word in phrase.split()
    ]
