"""Tag words: object names alone (Oscar) or led by their attribute names."""

from __future__ import annotations

import pytest

from vlp.data.tags import tag_words


def test_object_names_split_into_words_in_region_order():
    assert tag_words(["stop sign", "car", "car"]) == ["stop", "sign", "car", "car"]


def test_attributes_lead_their_own_region_name():
    names = ["star", "stop sign", "image"]
    attributes = [["green", "small"], ["dark red"], []]
    assert tag_words(names, attributes) == ["green", "small", "star", "dark", "red", "stop", "sign", "image"]


def test_attribute_lists_must_match_the_regions():
    with pytest.raises(ValueError, match="2 region labels but 1 attribute lists"):
        tag_words(["star", "car"], [["red"]])
