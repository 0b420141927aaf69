"""CIDEr-D against the COCO caption toolkit's implementation (pycocoevalcap) on the same tokenised captions."""

from __future__ import annotations

import random

import pytest

from vlp.metrics.cider import CiderD, cider_d

Cider = pytest.importorskip("pycocoevalcap.cider.cider").Cider

WORDS = [
    "a",
    "the",
    "red",
    "blue",
    "small",
    "large",
    "circle",
    "square",
    "star",
    "triangle",
    "is",
    "left",
    "of",
    "right",
    "above",
    "below",
    "and",
]


def captions(seed: int, images: int) -> tuple[dict[int, list[str]], dict[int, list[list[str]]]]:
    rng = random.Random(seed)

    def sentence() -> list[str]:
        return [rng.choice(WORDS) for _ in range(rng.randint(3, 12))]

    references = {image: [sentence() for _ in range(rng.randint(1, 5))] for image in range(images)}
    # Candidates: some copy a reference, some repeat words (what clipping is for), the rest are random.
    candidates = {}
    for image, refs in references.items():
        kind = image % 3
        candidates[image] = refs[0] if kind == 0 else ([refs[0][0]] * 8 if kind == 1 else sentence())
    return candidates, references


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_the_toolkit_to_four_decimals(seed):
    candidates, references = captions(seed, images=30)
    toolkit_mean, toolkit_scores = Cider().compute_score(
        {i: [" ".join(r) for r in refs] for i, refs in references.items()},
        {i: [" ".join(c)] for i, c in candidates.items()},
    )
    mean, scores = cider_d(candidates, references)
    assert mean == pytest.approx(toolkit_mean, abs=1e-4)
    assert [scores[i] for i in sorted(scores)] == pytest.approx(list(toolkit_scores), abs=1e-4)


def test_a_fixed_corpus_scores_like_the_toolkit_over_that_corpus():
    candidates, references = captions(5, images=20)
    corpus = CiderD(references)  # e.g. the training references SCST caches
    mean, _ = corpus.corpus_score(candidates, references)
    assert mean == pytest.approx(cider_d(candidates, references)[0], abs=1e-9)  # same images: same frequencies
    with pytest.raises(KeyError, match=r"no references for image ids \[99\]"):
        corpus.corpus_score({99: ["a"]}, references)
