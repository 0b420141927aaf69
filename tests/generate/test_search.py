"""Greedy and beam search against exhaustive enumeration on small Markov decoders whose every sequence can be scored."""

from __future__ import annotations

import itertools

import pytest
import torch

from vlp.generate import BeamSettings, beam_search, greedy_search, sample

END, START, VOCAB = 0, 3, 4  # tokens 1, 2 and 3 are words; 3 also starts


class MarkovDecoder:
    """Next-token log-probabilities that depend on the example and the last token only, with the reordering a cache
    would get; `fed` records every row's tokens, to check what was extended."""

    def __init__(self, batch: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.table = (torch.randn(batch, VOCAB, VOCAB, generator=generator) * 1.5).log_softmax(dim=-1)
        self.example = torch.arange(batch)
        self.fed: list[list[int]] = [[] for _ in range(batch)]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        for row, token in enumerate(tokens.tolist()):
            self.fed[row].append(token)
        return self.table[self.example, tokens]

    def reorder(self, rows: torch.Tensor) -> None:
        self.example = self.example[rows]
        self.fed = [list(self.fed[row]) for row in rows.tolist()]

    def score(self, example: int, tokens: list[int], ended: bool, length_penalty: float) -> float:
        """The length-penalised score of a sequence, computed from the table."""
        steps = [*tokens, END] if ended else tokens
        previous = [START, *steps[:-1]]
        total = sum(float(self.table[example, a, b]) for a, b in zip(previous, steps, strict=True))
        return total / len(steps) ** length_penalty


def every_sequence(max_length: int, min_length: int) -> list[tuple[list[int], bool]]:
    """(tokens, ended) of every sequence a search may return: words then the end token, or `max_length` words."""
    found = []
    for length in range(max_length):
        if length >= min_length:
            found += [(list(words), True) for words in itertools.product(range(1, VOCAB), repeat=length)]
    found += [(list(words), False) for words in itertools.product(range(1, VOCAB), repeat=max_length)]
    return found


@pytest.mark.parametrize(("length_penalty", "min_length"), [(0.0, 0), (1.0, 0), (1.0, 2), (0.6, 1)])
def test_a_wide_beam_finds_the_best_sequences_of_exhaustive_search(length_penalty, min_length):
    settings = BeamSettings(beams=128, max_length=4, min_length=min_length, length_penalty=length_penalty)
    decoder = MarkovDecoder(batch=3, seed=1)
    results = beam_search(decoder, 3, START, END, settings)
    reference = MarkovDecoder(batch=3, seed=1)
    for example, hypotheses in enumerate(results):
        ranked = sorted(
            (reference.score(example, tokens, ended, length_penalty), tokens)
            for tokens, ended in every_sequence(4, min_length)
        )[::-1]
        assert [h.tokens for h in hypotheses[:5]] == [tokens for _, tokens in ranked[:5]]
        for hypothesis, (score, _) in zip(hypotheses, ranked, strict=False):
            assert hypothesis.score == pytest.approx(score, abs=1e-5)
            assert END not in hypothesis.tokens and len(hypothesis.tokens) >= min_length


def test_finished_hypotheses_are_never_extended():
    decoder = MarkovDecoder(batch=2, seed=4)
    results = beam_search(decoder, 2, START, END, BeamSettings(beams=3, max_length=6))
    reference = MarkovDecoder(batch=2, seed=4)
    for example, hypotheses in enumerate(results):
        assert len(hypotheses) == 3
        for hypothesis in hypotheses:
            ended = len(hypothesis.tokens) < 6
            assert hypothesis.score == pytest.approx(reference.score(example, hypothesis.tokens, ended, 1.0), abs=1e-5)
    # A row fed the end token is only ever fed the end token again (it is dead, not extended).
    for fed in decoder.fed:
        if END in fed:
            assert set(fed[fed.index(END) :]) == {END}


@pytest.mark.parametrize("seed", range(5))
def test_one_beam_without_length_penalty_is_greedy(seed):
    greedy = greedy_search(MarkovDecoder(batch=4, seed=seed), 4, START, END, max_length=8)
    beams = beam_search(MarkovDecoder(batch=4, seed=seed), 4, START, END, BeamSettings(1, 8, length_penalty=0.0))
    assert [hypotheses[0].tokens for hypotheses in beams] == greedy


def repeats_a_bigram(tokens: list[int]) -> bool:
    bigrams = list(itertools.pairwise(tokens))
    return len(bigrams) != len(set(bigrams))


def test_greedy_is_the_argmax_path_and_blocking_removes_repeated_ngrams():
    decoder = MarkovDecoder(batch=3, seed=7)
    plain = greedy_search(decoder, 3, START, END, max_length=10)
    for example, tokens in enumerate(plain):
        steps = [*tokens, END] if len(tokens) < 10 else tokens
        for previous, token in zip([START, *steps[:-1]], steps, strict=True):
            assert token == int(decoder.table[example, previous].argmax())
    assert any(repeats_a_bigram(tokens) for tokens in plain)  # so that blocking has something to block
    blocked = greedy_search(MarkovDecoder(batch=3, seed=7), 3, START, END, max_length=10, no_repeat_ngram_size=2)
    assert not any(repeats_a_bigram(tokens) for tokens in blocked)
    beams = beam_search(MarkovDecoder(batch=3, seed=7), 3, START, END, BeamSettings(3, 10, no_repeat_ngram_size=2))
    assert not any(repeats_a_bigram(h.tokens) for hypotheses in beams for h in hypotheses)


def test_samples_follow_the_decoder_and_carry_their_log_probabilities():
    decoder = MarkovDecoder(batch=2, seed=3)
    table = decoder.table.clone()
    sequences, totals = sample(
        decoder, 2, START, END, max_length=5, samples=4000, generator=torch.Generator().manual_seed(0)
    )
    assert len(sequences) == totals.shape[0] == 8000
    reference = MarkovDecoder(batch=2, seed=3)
    for row in (0, 1, 4000, 7999):
        example = row // 4000
        ended = len(sequences[row]) < 5
        expected = reference.score(example, sequences[row], ended, length_penalty=0.0)
        assert float(totals[row]) == pytest.approx(expected, abs=1e-5)
    # The first drawn token of example 1 is distributed as the table says (the end token included).
    first = torch.tensor([seq[0] if seq else END for seq in sequences[4000:]])
    frequencies = torch.bincount(first, minlength=VOCAB).float() / 4000
    torch.testing.assert_close(frequencies, table[1, START].exp(), atol=0.03, rtol=0)


def contains(tokens: list[int], part: list[int]) -> bool:
    return any(tokens[i : i + len(part)] == part for i in range(len(tokens) - len(part) + 1))


@pytest.mark.parametrize("constraints", [[[2]], [[1, 3]], [[2], [1, 3]]])
def test_a_wide_constrained_beam_finds_the_best_sequences_that_contain_the_constraints(constraints):
    settings = BeamSettings(beams=128, max_length=5, length_penalty=1.0)
    results = beam_search(MarkovDecoder(batch=2, seed=5), 2, START, END, settings, [constraints, constraints])
    reference = MarkovDecoder(batch=2, seed=5)
    for example, hypotheses in enumerate(results):
        allowed = [
            (reference.score(example, tokens, ended, 1.0), tokens)
            for tokens, ended in every_sequence(5, 0)
            if all(contains(tokens, part) for part in constraints)
        ]
        ranked = sorted(allowed)[::-1]
        # Scores, not tokens: a Markov decoder gives sequences with the same transitions the same score.
        assert [h.score for h in hypotheses[:5]] == pytest.approx([score for score, _ in ranked[:5]], abs=1e-5)
        for hypothesis in hypotheses:
            assert all(contains(hypothesis.tokens, part) for part in constraints)
            ended = len(hypothesis.tokens) < 5
            assert hypothesis.score == pytest.approx(reference.score(example, hypothesis.tokens, ended, 1.0), abs=1e-5)


def test_constraints_per_example_and_a_minimum_to_satisfy():
    settings = BeamSettings(beams=3, max_length=8)
    plain = beam_search(MarkovDecoder(batch=2, seed=6), 2, START, END, settings)
    mixed = beam_search(MarkovDecoder(batch=2, seed=6), 2, START, END, settings, [[], [[1], [2], [3]]])
    # No constraints: plain beam search (the same scores; ties may come in another order).
    assert [h.score for h in mixed[0]] == pytest.approx([h.score for h in plain[0]])
    assert all(all(contains(h.tokens, [t]) for t in (1, 2, 3)) for h in mixed[1])
    some = beam_search(MarkovDecoder(batch=1, seed=6), 1, START, END, settings, [[[1], [2], [3]]], min_constraints=1)
    assert all(sum(contains(h.tokens, [t]) for t in (1, 2, 3)) >= 1 for h in some[0])
    assert some[0][0].score >= mixed[1][0].score  # asking for fewer constraints never scores worse
