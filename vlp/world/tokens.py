"""The tokenisation that scene-graph spans index into."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


def tokenize_caption(text: str) -> list[str]:
    """Splits a caption into lowercase tokens: runs of letters and digits, and every other visible character alone.

    Scene-graph spans are [start, end) indices into this list, so a caption parser scored against the gold graphs must
    tokenise the same way.

    Example:
        >>> tokenize_caption("Two shapes: a red circle, and a big plus sign.")
        ['two', 'shapes', ':', 'a', 'red', 'circle', ',', 'and', 'a', 'big', 'plus', 'sign', '.']

    Args:
        text: a caption as written in the captions json.

    Returns:
        The tokens, lowercased, punctuation split off as one-character tokens.
    """
    return _TOKEN.findall(text.lower())
