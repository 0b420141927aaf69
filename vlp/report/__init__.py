"""The demo's report: each stage's headline number against its controls, and the pictures of `report.md`."""

from vlp.report.summary import StageSummary, read_summaries

__all__ = ["StageSummary", "read_summaries"]
