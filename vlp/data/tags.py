"""The words of an image's region tags, Oscar's text b: object names, optionally led by their attribute names."""

from __future__ import annotations

from collections.abc import Sequence

from vlp.store import RegionEntry, RegionStore


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


def entry_tag_words(entry: RegionEntry, max_regions: int, attributes: bool) -> list[str]:
    """The tag words of an image's first `max_regions` regions, led by their attributes when `attributes` is set (the
    store must hold them: see `require_attributes`)."""
    keep = slice(0, max_regions)
    names = entry.attribute_names[keep] if attributes and entry.attribute_names is not None else None
    return tag_words(entry.label_names[keep], names)


def require_attributes(store: RegionStore, path: str) -> None:
    """Refuses attribute-led tags over a store (`path`) that holds no region attributes.

    Raises:
        ValueError: naming the store.
    """
    if not store.has_attributes:
        raise ValueError(f"tag_attributes is set but {path} holds no region attributes")
