"""Greedy and beam search over any incremental decoder.

The decoder is a `DecodingState`: it holds one row per hypothesis (a key/value cache, say), turns each row's latest
token into log-probabilities of the next one, and keeps or repeats rows when the search reorders its hypotheses. The
search never sees the model, so it is tested against exhaustive enumeration on small decoders, and captioning (or any
task that generates text) supplies the state that runs its model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor


class DecodingState(Protocol):
    """One row per hypothesis of an incremental decoder."""

    def step(self, tokens: Tensor) -> Tensor:
        """Feeds each row its latest token.

        Args:
            tokens: Long[N] the token each row chose at the last step (the start token at the first).

        Returns:
            Float[N, V] log-probabilities of each row's next token.
        """
        ...

    def reorder(self, rows: Tensor) -> None:
        """Keeps rows `rows` (Long[N'], repeats allowed) for the next step, in that order."""
        ...


@dataclass(frozen=True)
class BeamSettings:
    """How beam search scores and ends hypotheses (Oscar's and Hugging Face's conventions).

    Attributes:
        beams: hypotheses kept per example (Oscar's captioning: 5).
        max_length: generated tokens at most, the end token included (Oscar: 20).
        min_length: no end token before this many tokens.
        length_penalty: a finished hypothesis scores its summed log-probability / length ** length_penalty; above 0
            favours longer captions.
        no_repeat_ngram_size: no n-gram of this size occurs twice in a hypothesis (0: off).
    """

    beams: int = 5
    max_length: int = 20
    min_length: int = 0
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0

    def __post_init__(self) -> None:
        if self.beams < 1 or self.max_length < 1:
            raise ValueError(f"beams and max_length must be positive, got {self.beams} and {self.max_length}")
        if not 0 <= self.min_length <= self.max_length:
            raise ValueError(f"min_length must lie in [0, max_length], got {self.min_length}")


@dataclass(order=True)
class Hypothesis:
    """A finished hypothesis: its length-penalised score and its tokens (the end token excluded)."""

    score: float
    tokens: list[int] = field(compare=False)


def _banned(sequences: list[list[int]], size: int, vocab: int, device: torch.device) -> Tensor:
    """Bool[N, V]: tokens that would repeat an n-gram of `size` in each row's sequence."""
    banned = torch.zeros(len(sequences), vocab, dtype=torch.bool, device=device)
    if size <= 0:
        return banned
    for row, sequence in enumerate(sequences):
        if len(sequence) + 1 < size:
            continue
        prefix = tuple(sequence[len(sequence) - size + 1 :]) if size > 1 else ()
        for start in range(len(sequence) - size + 1):
            if tuple(sequence[start : start + size - 1]) == prefix:
                banned[row, sequence[start + size - 1]] = True
    return banned


def _constrain(log_probs: Tensor, sequences: list[list[int]], settings: BeamSettings, end_token: int) -> Tensor:
    """[N, V] log-probabilities with the end token banned before `min_length` and repeated n-grams banned."""
    log_probs = log_probs.clone()
    if len(sequences[0]) < settings.min_length:
        log_probs[:, end_token] = -torch.inf
    banned = _banned(sequences, settings.no_repeat_ngram_size, log_probs.shape[1], log_probs.device)
    return log_probs.masked_fill(banned, -torch.inf)


def _cannot_improve(finished: list[Hypothesis], live: list[tuple[int, int, float]], settings: BeamSettings) -> bool:
    """Whether an example's `beams` finished hypotheses are certain to stay its best: no live hypothesis (row, token,
    summed log-probability) can end with a better score. Its sum only falls as it grows, and with a non-negative
    length penalty its score is at most that sum over `max_length ** length_penalty` (the sum is not positive)."""
    if len(finished) < settings.beams or settings.length_penalty < 0:
        return False
    best_live = max(score for _, _, score in live)
    return best_live / settings.max_length**settings.length_penalty <= finished[-1].score


def greedy_search(
    state: DecodingState,
    batch: int,
    start_token: int,
    end_token: int,
    max_length: int = 20,
    min_length: int = 0,
    no_repeat_ngram_size: int = 0,
) -> list[list[int]]:
    """The most likely next token at every step, per example, until the end token or `max_length`.

    Args:
        state: the decoder, with `batch` rows (one per example).
        batch: B.
        start_token: fed at the first step (`[CLS]`, say).
        end_token: ends a sequence (`[SEP]`); not part of the result.
        max_length, min_length, no_repeat_ngram_size: as `BeamSettings`.

    Returns:
        [B] token lists. Finished rows keep stepping with the end token (rows cannot leave a batched cache), but
        their results no longer change.
    """
    settings = BeamSettings(1, max_length, min_length, 1.0, no_repeat_ngram_size)
    sequences: list[list[int]] = [[] for _ in range(batch)]
    finished = [False] * batch
    tokens = torch.full((batch,), start_token, dtype=torch.long)
    for _ in range(max_length):
        log_probs = _constrain(state.step(tokens), sequences, settings, end_token)
        tokens = log_probs.argmax(dim=-1).cpu()
        for row, token in enumerate(tokens.tolist()):
            if finished[row]:
                continue
            if token == end_token:
                finished[row] = True
            else:
                sequences[row].append(token)
        if all(finished):
            break
        tokens = torch.where(torch.tensor(finished), end_token, tokens)
    return sequences


def beam_search(
    state: DecodingState,
    batch: int,
    start_token: int,
    end_token: int,
    settings: BeamSettings | None = None,
    constraints: Sequence[Sequence[Sequence[int]]] | None = None,
    min_constraints: int | None = None,
) -> list[list[Hypothesis]]:
    """Beam search, batched over examples, one new token per hypothesis and step; optionally constrained to
    sequences that contain given token sequences (constrained beam search, Anderson et al. 2017; Oscar's `--use_cbs`).

    Each step extends every live hypothesis by every token, keeps the `2 * beams` best extensions, sets aside those
    that end (scored with the length penalty) and keeps the best `beams` others alive. A finished hypothesis is never
    extended. With constraints, hypotheses are grouped by the set of constraints they contain (a finite-state machine
    over 2^C states), and each group keeps its own `beams` hypotheses, so that ones that have taken in a constraint
    are not crowded out by likelier ones that have not. The search ends at `max_length`, or once every group has
    `beams` finished hypotheses and no live one can end with a better score than the worst of them
    (`_cannot_improve`).

    Args:
        state: the decoder, with `batch` rows (one per example); it is reordered to `batch * 2^C * beams` rows.
        batch: B.
        start_token: fed at the first step.
        end_token: ends a hypothesis; not part of the tokens returned.
        settings: beam width, lengths, length penalty, n-gram blocking.
        constraints: per example, the token sequences its hypotheses must contain (word pieces of a tag, say); None
            or empty lists for plain beam search.
        min_constraints: how many of an example's constraints a returned hypothesis must contain (Oscar's
            `min_constraints_to_satisfy`); all of them when None.

    Returns:
        [B] finished hypotheses per example, best first (live hypotheses that reached `max_length` count as finished):
        those containing at least `min_constraints` constraints, or, where none does, those containing the most.
    """
    settings = settings or BeamSettings()
    constraints = [list(map(list, example)) for example in constraints] if constraints else [[] for _ in range(batch)]
    if len(constraints) != batch:
        raise ValueError(f"give constraints for each of the {batch} examples, got {len(constraints)}")
    beams, groups = settings.beams, 2 ** max(len(example) for example in constraints)
    width = groups * beams  # rows per example: `beams` per group of satisfied constraints
    state.reorder(torch.arange(batch).repeat_interleave(width))
    # Only the first beam of each example is live at the start (no constraint met yet): the others would repeat it.
    scores = torch.full((batch, width), -torch.inf)
    scores[:, 0] = 0.0
    sequences: list[list[int]] = [[] for _ in range(batch * width)]
    finished: list[list[list[Hypothesis]]] = [[[] for _ in range(groups)] for _ in range(batch)]
    done = [[False] * groups for _ in range(batch)]
    tokens = torch.full((batch * width,), start_token, dtype=torch.long)
    for length in range(1, settings.max_length + 1):
        log_probs = _constrain(state.step(tokens).float().cpu(), sequences, settings, end_token)
        vocab = log_probs.shape[1]
        candidates = scores[:, :, None] + log_probs.view(batch, width, vocab)
        rows, next_tokens, next_scores = [], [], []
        for example in range(batch):
            offset = example * width
            moves = _constraint_moves(sequences[offset : offset + width], constraints[example], beams)
            for group in range(groups):
                ranked = _group_candidates(candidates[example], group, beams, moves).view(-1)
                top_scores, top_index = ranked.topk(min(2 * beams, ranked.numel()))
                kept: list[tuple[int, int, float]] = []
                for score, index in zip(top_scores.tolist(), top_index.tolist(), strict=True):
                    if done[example][group] or len(kept) == beams or score == -float("inf"):
                        break
                    source, token = divmod(index, vocab)
                    row = offset + source
                    if token == end_token or length == settings.max_length:
                        generated = sequences[row] + ([] if token == end_token else [token])
                        # The length counts the generated tokens, the end token included.
                        penalised = score / (len(generated) + (token == end_token)) ** settings.length_penalty
                        finished[example][group].append(Hypothesis(penalised, generated))
                    else:
                        kept.append((row, token, score))
                finished[example][group] = sorted(finished[example][group], reverse=True)[:beams]
                while len(kept) < beams:  # a group that is done (or has no candidates) keeps dead rows
                    kept.append((offset, end_token, -float("inf")))
                done[example][group] = done[example][group] or _cannot_improve(finished[example][group], kept, settings)
                for row, token, score in kept:
                    rows.append(row)
                    next_tokens.append(token)
                    next_scores.append(-float("inf") if done[example][group] else score)
        if all(all(flags) for flags in done) or length == settings.max_length:
            break
        sequences = [sequences[row] + [token] for row, token in zip(rows, next_tokens, strict=True)]
        scores = torch.tensor(next_scores).view(batch, width)
        tokens = torch.tensor(next_tokens, dtype=torch.long)
        state.reorder(torch.tensor(rows, dtype=torch.long))
    return [
        _satisfying(finished[example], len(constraints[example]), min_constraints, beams) for example in range(batch)
    ]


def _constraint_moves(
    sequences: list[list[int]], constraints: list[list[int]], beams: int
) -> dict[tuple[int, int], int]:
    """{(row, token): group it leads to} for the tokens that complete a constraint not yet met; every other token
    leaves a row in its group. A row's group is the bit set of the constraints it contains (row // beams)."""
    moves: dict[tuple[int, int], int] = {}
    for row, sequence in enumerate(sequences):
        group = row // beams
        for bit, constraint in enumerate(constraints):
            if group >> bit & 1:
                continue
            prefix = constraint[:-1]
            if not prefix or sequence[len(sequence) - len(prefix) :] == prefix:
                key = (row, constraint[-1])
                moves[key] = moves.get(key, group) | (1 << bit)
    return moves


def _group_candidates(candidates: Tensor, group: int, beams: int, moves: dict[tuple[int, int], int]) -> Tensor:
    """[rows, V] the candidate scores of one example that land in `group` (-inf elsewhere)."""
    landing = torch.full_like(candidates, -torch.inf)
    members = slice(group * beams, (group + 1) * beams)
    landing[members] = candidates[members]
    for (row, token), target in moves.items():
        if target == group:
            landing[row, token] = candidates[row, token]
        elif row // beams == group:
            landing[row, token] = -torch.inf
    return landing


def _satisfying(
    finished: list[list[Hypothesis]], count: int, min_constraints: int | None, beams: int
) -> list[Hypothesis]:
    """The best `beams` hypotheses of the groups that contain at least `min_constraints` (default `count`) of the
    constraints, or of the groups that contain the most where none of those finished."""
    needed = count if min_constraints is None else min(min_constraints, count)
    satisfied = [h for group, hyps in enumerate(finished) for h in hyps if bin(group).count("1") >= needed]
    if not satisfied:
        most = max((bin(group).count("1") for group, hyps in enumerate(finished) if hyps), default=0)
        satisfied = [h for group, hyps in enumerate(finished) for h in hyps if bin(group).count("1") == most]
    return sorted(satisfied, reverse=True)[:beams]


def sample(
    state: DecodingState,
    batch: int,
    start_token: int,
    end_token: int,
    max_length: int = 20,
    samples: int = 5,
    generator: torch.Generator | None = None,
) -> tuple[list[list[int]], Tensor]:
    """`samples` sequences per example, each token drawn from the decoder's distribution (SCST's exploration).

    Gradients flow through the returned log-probabilities when the state computes them with gradients.

    Args:
        state: the decoder, with `batch` rows; it is reordered to `batch * samples` rows (example-major).
        batch: B.
        start_token, end_token: as `greedy_search`.
        max_length: tokens drawn at most, the end token included.
        samples: S, sequences per example.
        generator: the source of the draws.

    Returns:
        ([B * S] token lists without the end token, Float[B * S] each sequence's summed log-probability, the end
        token's included when it was drawn). Row b * S + s is sample s of example b.
    """
    rows = batch * samples
    state.reorder(torch.arange(batch).repeat_interleave(samples))
    sequences: list[list[int]] = [[] for _ in range(rows)]
    running = torch.ones(rows, dtype=torch.bool)
    total: Tensor | None = None
    tokens = torch.full((rows,), start_token, dtype=torch.long)
    for _ in range(max_length):
        log_probs = state.step(tokens)
        drawn = torch.multinomial(log_probs.detach().float().exp().cpu(), 1, generator=generator).squeeze(1)
        chosen = log_probs.gather(1, drawn.to(log_probs.device)[:, None]).squeeze(1)
        step = torch.where(running.to(chosen.device), chosen, torch.zeros_like(chosen))
        total = step if total is None else total + step
        for row, token in enumerate(drawn.tolist()):
            if running[row] and token != end_token:
                sequences[row].append(token)
        running = running & (drawn != end_token)  # a new tensor: the last one is saved for backward
        if not running.any():
            break
        tokens = torch.where(running, drawn, end_token)
    assert total is not None
    return sequences, total
