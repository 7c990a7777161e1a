"""Progress bars for long jobs (rich), so that every command shows how far it is and how fast."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second over rich's recent window, e.g. `12.3 files/s`."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} {self.unit}/s" if speed else f"- {self.unit}/s", style="progress.data.speed")


def progress_bar(unit: str | None = None, enabled: bool = True) -> Progress:
    """A transient bar: description, bar, done/total, rate (when `unit` is given), time left."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(RateColumn(unit))
    return Progress(*columns, TimeRemainingColumn(), transient=True, disable=not enabled)
