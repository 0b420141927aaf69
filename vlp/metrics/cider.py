"""CIDEr-D (Vedantam et al. 2015, the variant the COCO caption toolkit reports as "CIDEr"), computed in-process.

For each n = 1..4, a sentence is a vector of its n-gram counts weighted by the n-grams' inverse document frequency
over a reference corpus (one document per image: the set of its reference n-grams). A candidate is compared with
each reference of its image by the cosine of these vectors, with the candidate's counts clipped to the reference's
("-D": no gaming by repetition) and a Gaussian penalty on their length difference (sigma 6); the score averages over
n and over the references and is multiplied by 10.

`CiderD` keeps the document frequencies of one corpus: the evaluated images' own references, as the toolkit does, or
the training references, which SCST's reward uses so that it needs neither Java nor the whole evaluation set.
Sentences are token sequences (the toolkit's PTB tokenisation, or lower-cased words).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

MAX_N = 4
SIGMA = 6.0
SCALE = 10.0

Ngrams = list[Counter[tuple[str, ...]]]


def ngram_counts(tokens: Sequence[str], max_n: int = MAX_N) -> Ngrams:
    """[max_n] counts of the 1- to max_n-grams of a token sequence."""
    return [Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)) for n in range(1, max_n + 1)]


class CiderD:
    """CIDEr-D with document frequencies from a reference corpus.

    Args:
        corpus: image id -> the token sequences of its reference captions; each image is one document.
    """

    def __init__(self, corpus: Mapping[object, Sequence[Sequence[str]]]) -> None:
        if not corpus:
            raise ValueError("CIDEr-D needs a reference corpus with at least one image")
        self.document_frequency: Counter[tuple[str, ...]] = Counter()
        for references in corpus.values():
            seen = set()
            for reference in references:
                for counts in ngram_counts(reference):
                    seen.update(counts)
            self.document_frequency.update(seen)
        self.log_documents = math.log(float(len(corpus)))

    def _vectors(self, tokens: Sequence[str]) -> tuple[list[dict[tuple[str, ...], float]], list[float], int]:
        """Per n: the tf-idf weights of the sentence's n-grams, their norms, and the sentence's length."""
        vectors, norms = [], []
        for counts in ngram_counts(tokens):
            weights = {
                gram: count * (self.log_documents - math.log(max(1.0, self.document_frequency[gram])))
                for gram, count in counts.items()
            }
            vectors.append(weights)
            norms.append(math.sqrt(sum(w * w for w in weights.values())))
        return vectors, norms, len(tokens)

    def _similarity(self, candidate: tuple, reference: tuple) -> float:
        """The mean over n of the clipped, length-penalised cosine of two sentences' vectors."""
        (cand_vectors, cand_norms, cand_length), (ref_vectors, ref_norms, ref_length) = candidate, reference
        penalty = math.exp(-((cand_length - ref_length) ** 2) / (2 * SIGMA**2))
        total = 0.0
        for cand, ref, cand_norm, ref_norm in zip(cand_vectors, ref_vectors, cand_norms, ref_norms, strict=True):
            if cand_norm == 0 or ref_norm == 0:
                continue
            overlap = sum(min(weight, ref.get(gram, 0.0)) * ref.get(gram, 0.0) for gram, weight in cand.items())
            total += penalty * overlap / (cand_norm * ref_norm)
        return total / len(cand_vectors)

    def score(self, candidate: Sequence[str], references: Sequence[Sequence[str]]) -> float:
        """CIDEr-D of one candidate against its image's references."""
        if not references:
            raise ValueError("CIDEr-D needs at least one reference per candidate")
        vectors = self._vectors(candidate)
        return SCALE * sum(self._similarity(vectors, self._vectors(ref)) for ref in references) / len(references)

    def corpus_score(
        self, candidates: Mapping[object, Sequence[str]], references: Mapping[object, Sequence[Sequence[str]]]
    ) -> tuple[float, dict[object, float]]:
        """(the mean CIDEr-D, each image's) of one candidate per image.

        Raises:
            KeyError: naming an image that has a candidate but no references.
        """
        missing = [image for image in candidates if image not in references]
        if missing:
            raise KeyError(f"no references for image ids {missing[:5]}")
        scores = {image: self.score(candidate, references[image]) for image, candidate in candidates.items()}
        return sum(scores.values()) / max(1, len(scores)), scores


def cider_d(
    candidates: Mapping[object, Sequence[str]], references: Mapping[object, Sequence[Sequence[str]]]
) -> tuple[float, dict[object, float]]:
    """CIDEr-D as the COCO caption toolkit computes it: document frequencies from the evaluated images' references."""
    return CiderD({image: references[image] for image in candidates}).corpus_score(candidates, references)
