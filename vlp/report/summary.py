"""What a demo stage found, in one small json file per stage that the report reads back.

A stage's result is its headline number (VQA accuracy, CIDEr-D, R@1, ...) on the held-out split, with the same number
for each of its controls (shuffled regions, a blind prior); the stage shows learning when the result beats every
control by its required margin.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

# `<stage folder>/demo_summary.<stage>.json`: a folder may hold several (retrieval and zero-shot).
SUMMARY_PATTERN = "demo_summary.{stage}.json"
# `<run>/full/<variant>/`: the runs `vlp demo --full` nests in a run folder, each with summaries of its own.
NESTED_RUNS = "full"


@dataclass(frozen=True)
class StageSummary:
    """One demo stage's headline result against its controls.

    Attributes:
        stage: the demo stage ("vqa", "captioning", ...).
        metric: what `value` measures, for people ("VQA accuracy, test questions").
        value: the trained model's number.
        controls: each control's name -> its number on the same metric.
        required_margin: by how much `value` must beat the best control (in the metric's units); with `ratio`, the
            factor by which it must exceed it instead.
        ratio: whether the margin is a factor (CIDEr-D: 2x) rather than a difference (accuracy: points).
        details: further numbers worth a line in the report (per answer type, R@5, ...).
    """

    stage: str
    metric: str
    value: float
    controls: dict[str, float]
    required_margin: float
    ratio: bool = False
    details: dict[str, float] = field(default_factory=dict)

    @property
    def best_control(self) -> float:
        """The strongest control's number."""
        return max(self.controls.values())

    @property
    def margin(self) -> float:
        """`value` over the best control: a difference, or a factor when `ratio`."""
        return self.value / max(self.best_control, 1e-9) if self.ratio else self.value - self.best_control

    @property
    def passed(self) -> bool:
        """Whether the model beats every control by the required margin."""
        return self.margin >= self.required_margin

    def margin_text(self) -> str:
        """The margin for people: "+14.2 points" or "3.1x"."""
        return f"{self.margin:.2f}x" if self.ratio else f"{self.margin:+.2f}"

    def save(self, folder: Path) -> Path:
        """Writes the summary as `folder/demo_summary.<stage>.json`."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / SUMMARY_PATTERN.format(stage=self.stage)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> StageSummary:
        """Reads a summary written by `save`.

        Raises:
            ValueError: naming the file when it is not a stage summary.
        """
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, TypeError) as error:
            raise ValueError(f"{path}: not a demo stage summary ({error})") from error


def read_summaries(run_dir: Path) -> dict[str, StageSummary]:
    """Every stage summary of the run in `run_dir`, by stage name; the runs nested under `NESTED_RUNS` are not this
    run's stages."""
    paths = sorted(
        path
        for path in run_dir.rglob(SUMMARY_PATTERN.format(stage="*"))
        if path.relative_to(run_dir).parts[0] != NESTED_RUNS
    )
    summaries = [StageSummary.load(path) for path in paths]
    return {summary.stage: summary for summary in summaries}
