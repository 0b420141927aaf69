"""The documented caption tokenisation."""

from __future__ import annotations

import pytest

from vlp.world import tokenize_caption


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("A red circle.", ["a", "red", "circle", "."]),
        (
            "Two shapes: a big plus sign, and a disc",
            ["two", "shapes", ":", "a", "big", "plus", "sign", ",", "and", "a", "disc"],
        ),
        ("  spaced   out  ", ["spaced", "out"]),
        ("it's 2 stars!", ["it", "'", "s", "2", "stars", "!"]),
        ("", []),
    ],
)
def test_tokenize_caption(text: str, tokens: list[str]) -> None:
    assert tokenize_caption(text) == tokens
