"""`vlp eval TASK ...`: offline evaluation of result files with each benchmark's official metric.

Each task is a function taking the rest of the command line and returning the exit status; a new task is one more
entry in `TASKS`, imported lazily so that one task's dependencies never slow down another's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


def _vqa(argv: Sequence[str]) -> int:
    from vlp.eval.vqa import main as vqa_main

    return vqa_main(argv)


def _vqa_prior(argv: Sequence[str]) -> int:
    from vlp.eval.vqa_prior import main as prior_main

    return prior_main(argv)


def _caption(argv: Sequence[str]) -> int:
    from vlp.eval.caption import main as caption_main

    return caption_main(argv)


def _retrieval(argv: Sequence[str]) -> int:
    from vlp.eval.retrieval import main as retrieval_main

    return retrieval_main(argv)


TASKS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "vqa": (_vqa, "VQA v2 accuracy (official), overall, per answer type and per question type"),
    "vqa-prior": (_vqa_prior, "the blind VQA baseline: each question type's most common training answer"),
    "caption": (_caption, "COCO caption metrics: BLEU-1..4, METEOR, ROUGE-L, CIDEr (CIDEr-D), SPICE where available"),
    "retrieval": (_retrieval, "image-text retrieval: Recall@1/5/10 both ways and RSUM, COCO 1K (5 folds) or 5K"),
}


def _usage() -> str:
    lines = ["usage: vlp eval TASK [...]   (vlp eval TASK --help for its options)", "", "tasks:"]
    return "\n".join(lines + [f"  {name:<10} {summary}" for name, (_, summary) in TASKS.items()])


def main(argv: Sequence[str]) -> int:
    """Dispatches `argv[0]` to its task; returns the exit status."""
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    task, rest = argv[0], list(argv[1:])
    if task not in TASKS:
        print(f"vlp eval: unknown task {task!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    return TASKS[task][0](rest)
