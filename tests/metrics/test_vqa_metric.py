"""`VQAAccuracy`: sums per type, hand-checked values, and the same numbers from two gloo processes as from one."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from vlp.metrics.vqa_metric import VQA_ANSWER_TYPES, VQAAccuracy

QUESTION_TYPES = ("how many", "what color is the", "is there a")


def test_compute_by_hand() -> None:
    metric = VQAAccuracy(question_types=QUESTION_TYPES)
    metric.update(
        ["2", "Red", "yes"],
        [["2"] * 10, ["red"] * 2 + ["blue"] * 8, ["yes"] * 10],
        ["number", "other", "yes/no"],
        ["how many", "what color is the", "is there a"],
    )
    metric.update(["no"], [["yes"] * 10], ["yes/no"], ["is there a"])
    result = metric.compute()
    # Scores 1, 0.6 (two matches, "Red" normalised since the answers differ), 1, 0.
    assert result["overall"].item() == pytest.approx(100 * 2.6 / 4)
    assert result["answer_type/number"].item() == pytest.approx(100)
    assert result["answer_type/other"].item() == pytest.approx(60)
    assert result["answer_type/yes/no"].item() == pytest.approx(50)
    assert result["question_type/is there a"].item() == pytest.approx(50)
    assert set(result) == {"overall"} | {f"answer_type/{t}" for t in ("number", "other", "yes/no")} | {
        f"question_type/{t}" for t in QUESTION_TYPES
    }


def test_types_never_seen_are_left_out_and_reset_clears() -> None:
    metric = VQAAccuracy()
    metric.update(["2"], [["2"] * 10], ["number"])
    assert set(metric.compute()) == {"overall", "answer_type/number"}
    metric.reset()
    metric.update(["no"], [["yes"] * 10], ["yes/no"])
    assert metric.compute()["overall"].item() == 0


def test_bad_updates_are_errors() -> None:
    with pytest.raises(ValueError, match="distinct"):
        VQAAccuracy(answer_types=("yes/no", "yes/no"))
    metric = VQAAccuracy()
    with pytest.raises(ValueError, match=r"\['colour'\] are not among"):
        metric.update(["red"], [["red"] * 10], ["colour"])
    with pytest.raises(ValueError, match="one length"):
        metric.update(["red", "blue"], [["red"] * 10], ["other"])
    with pytest.raises(ValueError, match="question_types"):
        metric.update(["red"], [["red"] * 10], ["other"], ["what color is the"])
    with pytest.raises(ValueError, match="question_types"):
        VQAAccuracy(question_types=QUESTION_TYPES).update(["red"], [["red"] * 10], ["other"])


def _questions(count: int, seed: int) -> list[tuple[str, list[str], str, str]]:
    """Random questions: prediction, ten human answers (often disagreeing), answer type, question type."""
    rng = random.Random(seed)
    pool = ["yes", "no", "2", "two", "Red", "red", "a dog", "dog"]
    questions = []
    for _ in range(count):
        given = pool[: rng.randint(1, len(pool))]
        answers = [rng.choice(given) for _ in range(10)]
        questions.append((rng.choice(pool), answers, rng.choice(VQA_ANSWER_TYPES), rng.choice(QUESTION_TYPES)))
    return questions


def _update(metric: VQAAccuracy, questions: list[tuple[str, list[str], str, str]]) -> None:
    for start in range(0, len(questions), 4):
        batch = questions[start : start + 4]
        metric.update(*(list(column) for column in zip(*batch, strict=True)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, questions: list, out: Path) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        metric = VQAAccuracy(question_types=QUESTION_TYPES)
        # Uneven halves: rank 0 takes the first 23, rank 1 the rest.
        _update(metric, questions[:23] if rank == 0 else questions[23:])
        result = metric.compute()
        torch.save({name: value.item() for name, value in result.items()}, out / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.distributed
def test_two_processes_equal_one(tmp_path: Path) -> None:
    questions = _questions(40, seed=0)
    single = VQAAccuracy(question_types=QUESTION_TYPES)
    _update(single, questions)
    expected = {name: value.item() for name, value in single.compute().items()}
    mp.spawn(_worker, args=(2, _free_port(), questions, tmp_path), nprocs=2, join=True)
    for rank in range(2):
        assert torch.load(tmp_path / f"rank{rank}.pt") == pytest.approx(expected, rel=1e-12)
