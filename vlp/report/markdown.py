"""`report.md`: the demo's findings for people, a summary table (each stage's number against its controls, and its
time) followed by the pictures and the examples."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vlp.report.examples import ImageExamples
from vlp.report.summary import StageSummary

# The results each stage writes, where they are not just the stage's own.
STAGE_RESULTS = {"retrieval": ("retrieval", "zero-shot")}


@dataclass(frozen=True)
class StageRun:
    """One stage of the demo as it ran: its name, what it is, its seconds, and whether an earlier run's result was
    reused."""

    name: str
    description: str
    seconds: float
    reused: bool = False


@dataclass(frozen=True)
class Picture:
    """A PNG of the report, its heading and a line saying what it shows."""

    path: Path
    title: str
    caption: str = ""


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s" if seconds >= 60 else f"{seconds:.0f} s"


def format_number(value: float) -> str:
    """Three decimals below 10 (CIDEr-D, ratios), two above (accuracies and recalls in percent)."""
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


def summary_table(stages: Sequence[StageRun], summaries: dict[str, StageSummary]) -> list[str]:
    """The report's first table: one row per stage (and per extra result a stage wrote, e.g. zero-shot)."""
    lines = [
        "| stage | result | model | control | margin | learned? | time |",
        "|---|---|---|---|---|---|---|",
    ]
    for stage in stages:
        time = _minutes(stage.seconds) + (" (reused)" if stage.reused else "")
        found = [summaries[name] for name in STAGE_RESULTS.get(stage.name, (stage.name,)) if name in summaries]
        if not found:
            lines.append(f"| {stage.name} | {stage.description} | | | | | {time} |")
        for index, summary in enumerate(found):
            controls = ", ".join(f"{name} {format_number(value)}" for name, value in summary.controls.items())
            verdict = (
                "yes" if summary.passed else f"no (needs {summary.required_margin:g}{'x' if summary.ratio else ''})"
            )
            name = summary.stage if index else stage.name
            lines.append(
                f"| {name} | {summary.metric} | {format_number(summary.value)} | {controls} "
                f"| {summary.margin_text()} | {verdict} | {time if index == 0 else ''} |"
            )
    # This run's time, and apart from it the time the reused stages took when they ran.
    ran = sum(stage.seconds for stage in stages if not stage.reused)
    reused = sum(stage.seconds for stage in stages if stage.reused)
    total = f"**{_minutes(ran)}**" + (f" + {_minutes(reused)} reused" if reused else "")
    lines.append(f"| **all** | | | | | | {total} |")
    return lines


def _image_section(example: ImageExamples, picture: Path | None, folder: Path) -> list[str]:
    lines = [f"### Test image {example.image_id}", ""]
    if picture is not None:
        lines += [f"![image {example.image_id} with its regions]({os.path.relpath(picture, folder)})", ""]
    if example.answers:
        lines += ["| question | model's answer | most common human answer |", "|---|---|---|"]
        lines += [f"| {question} | {answer} | {truth} |" for question, answer, truth in example.answers]
        lines.append("")
    if example.caption is not None:
        lines.append(f"**Generated caption:** {example.caption}")
        lines.append("")
        lines += ["References:", *(f"- {reference}" for reference in example.references), ""]
    if example.retrieved:
        lines.append("**Top retrieved captions** (✓: one of this image's own):")
        lines += [f"{rank}. {'✓ ' if own else ''}{text}" for rank, (text, own) in enumerate(example.retrieved, 1)]
        lines.append("")
    return lines


def write_report(
    path: Path,
    stages: Sequence[StageRun],
    summaries: dict[str, StageSummary],
    curves: Sequence[Picture],
    examples: Sequence[ImageExamples],
    image_pictures: dict[str, Path],
    attention: Picture | None,
    header: Sequence[str] = (),
    appendix: Sequence[str] = (),
) -> Path:
    """Writes `report.md` at `path`; pictures are linked relative to its folder.

    Args:
        path: the file to write.
        stages: the stages as they ran, in order.
        summaries: each stage's result against its controls (`read_summaries`).
        curves: the training-curve pictures.
        examples: a few test images' answers, captions and retrieved captions.
        image_pictures: image id -> its picture with boxes and tags.
        attention: the attention-map picture.
        header: lines under the title (where and how it ran).
        appendix: lines at the end (e.g. `--full`'s tables).
    """
    folder = path.parent
    failed = [s.stage for s in summaries.values() if not s.passed]
    verdict = ""
    if summaries:
        verdict = (
            "Every stage beat its controls." if not failed else f"**Below the required margin: {', '.join(failed)}.**"
        )
    lines = ["# vlp demo report", "", *header, "", verdict, "", *summary_table(stages, summaries), ""]
    detailed = [summary for summary in summaries.values() if summary.details]
    if detailed:
        lines += ["More numbers of the trained models:", ""]
        for summary in detailed:
            numbers = ", ".join(f"{name} {format_number(value)}" for name, value in summary.details.items())
            lines.append(f"- {summary.stage}: {numbers}")
        lines.append("")
    if curves:
        lines += ["## Training curves", ""]
        for picture in curves:
            lines += [f"### {picture.title}", "", f"![{picture.title}]({os.path.relpath(picture.path, folder)})", ""]
            if picture.caption:
                lines += [picture.caption, ""]
    if examples:
        lines += [
            "## Test images",
            "",
            "Regions as the store holds them (boxes, attribute and object tags), and what "
            "the finetuned models say about the image.",
            "",
        ]
        for example in examples:
            lines += _image_section(example, image_pictures.get(example.image_id), folder)
    if attention is not None:
        lines += [f"## {attention.title}", "", f"![{attention.title}]({os.path.relpath(attention.path, folder)})", ""]
        if attention.caption:
            lines += [attention.caption, ""]
    lines += list(appendix)
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path
