"""How similar a caption's object word is to a detector tag: the weight of a cross-modal edge.

1 when the two are the same word up to case, inflection and plural ("Dogs" / "dog", "men" / "man", "plus signs" /
"plus sign"); otherwise the cosine of their word vectors when the caller supplies embeddings (synonyms: "disc" /
"circle"), clipped to [0, 1]; otherwise 0.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import torch

Vector = Sequence[float] | torch.Tensor
Embeddings = Mapping[str, Vector] | Callable[[str], Vector | None]
"""Word vectors: a mapping from words to vectors (e.g. loaded GloVe) or a function returning None for unknown words."""

# Plurals that no suffix rule undoes, and nouns whose plural is the same word (or that only exist in the plural).
IRREGULAR_PLURALS: dict[str, str] = {
    "men": "man",
    "women": "woman",
    "people": "person",
    "children": "child",
    "feet": "foot",
    "teeth": "tooth",
    "mice": "mouse",
    "geese": "goose",
    "oxen": "ox",
    "dice": "die",
    "skis": "ski",
}
INVARIANT_NOUNS: frozenset[str] = frozenset(
    {"sheep", "deer", "fish", "glasses", "scissors", "pants", "jeans", "shorts", "clothes", "series", "species", "news"}
)
# Singular nouns that end in "s" and must not lose it ("bus", "glass", "tennis", "cactus").
_SINGULAR_S_ENDINGS = ("ss", "us", "is")
_MIN_STEM = 2


@functools.lru_cache(maxsize=1 << 16)
def lemmas(word: str) -> frozenset[str]:
    """The word, lowercased, and every singular it may be the plural of (a small rule-based English lemmatiser).

    The rules return candidates rather than one answer where English is ambiguous ("boxes" -> box, "shoes" -> shoe:
    both "-es" and "-s" are tried; "berries" -> berry, "cookies" -> cookie), so that two words match when their
    candidate sets meet. Of a multi-word noun only the last word is inflected ("plus signs" -> "plus sign").

    Args:
        word: a noun or noun phrase.

    Returns:
        The candidates, the lowercased word itself included.
    """
    words = word.lower().split()
    if not words:
        return frozenset({""})
    *head, last = words
    return frozenset(" ".join([*head, form]) for form in _singulars(last))


def _singulars(word: str) -> set[str]:
    forms = {word}
    if word in INVARIANT_NOUNS:
        return forms
    if word in IRREGULAR_PLURALS:
        return forms | {IRREGULAR_PLURALS[word]}
    if not word.endswith("s") or word.endswith(_SINGULAR_S_ENDINGS) or len(word) - 1 < _MIN_STEM:
        return forms
    forms.add(word[:-1])  # dogs -> dog, shoes -> shoe, houses -> house
    if word.endswith("ies") and len(word) - 3 >= _MIN_STEM:
        forms.add(word[:-3] + "y")  # berries -> berry
    elif word.endswith("ves") and len(word) - 3 >= _MIN_STEM:
        forms |= {word[:-3] + "f", word[:-3] + "fe"}  # shelves -> shelf, knives -> knife
    elif word.endswith("es") and len(word) - 2 >= _MIN_STEM:
        forms.add(word[:-2])  # boxes -> box, crosses -> cross, buses -> bus
    return forms


def _vector(embeddings: Embeddings, word: str) -> torch.Tensor | None:
    """The vector of `word` or, failing that, of one of its lemmas; None if the embeddings know none of them."""
    for form in (word.lower(), *sorted(lemmas(word))):
        vector = embeddings(form) if callable(embeddings) else embeddings.get(form)
        if vector is not None:
            return torch.as_tensor(vector, dtype=torch.float32)
    return None


def tag_word_similarity(word: str, tag: str, embeddings: Embeddings | None = None) -> float:
    """Similarity of a caption's object word and a detector tag, in [0, 1].

    Args:
        word: the object's noun as written in the caption.
        tag: the region's label name.
        embeddings: optional word vectors for synonyms.

    Returns:
        1.0 for exact, lemma and plural matches; else the cosine of the two words' vectors clipped at 0, when
        `embeddings` know both words; else 0.0.
    """
    if lemmas(word) & lemmas(tag):
        return 1.0
    if embeddings is None:
        return 0.0
    word_vector, tag_vector = _vector(embeddings, word), _vector(embeddings, tag)
    if word_vector is None or tag_vector is None:
        return 0.0
    cosine = torch.nn.functional.cosine_similarity(word_vector, tag_vector, dim=0)
    return float(cosine.clamp(0.0, 1.0))
