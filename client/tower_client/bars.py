"""Progress bars per stage for a watched job (tqdm on a terminal, status lines otherwise)."""

from __future__ import annotations

import shutil
from typing import IO, Any

from tqdm import tqdm


def stage_label(stage: dict[str, Any], scene_numbers: dict[int, int]) -> str:
    """`scene 2 animate` (or `episode mix`), with the attempt when it is a retry."""
    scene_id = stage.get("scene_id")
    where = f"scene {scene_numbers.get(scene_id, scene_id)}" if scene_id else "episode"
    attempt = f" #{stage['attempt']}" if stage.get("attempt", 1) > 1 else ""
    return f"{where} {stage['stage']}{attempt}"


class StageBars:
    """Draws a status report: one bar per stage run plus the job's; call `close` at the end."""

    def __init__(self, job_id: int, stream: IO[str], *, interactive: bool | None = None) -> None:
        self.job_id = job_id
        self.stream = stream
        self.interactive = stream.isatty() if interactive is None else interactive
        self.bars: dict[int, tqdm] = {}
        self.job_bar: tqdm | None = None
        self.seen: dict[int, str] = {}
        self.scene_numbers: dict[int, int] = {}

    def update(self, report: dict[str, Any]) -> None:
        """Show a fresh status report."""
        for stage in report["stages"]:
            scene_id = stage.get("scene_id")
            if scene_id and scene_id not in self.scene_numbers:
                # Scenes by their order, as errors and the dashboard name them (a farm that
                # does not send it: by first appearance).
                order = stage.get("scene_order")
                self.scene_numbers[scene_id] = len(self.scene_numbers) if order is None else order
        if self.interactive:
            self.draw_bars(report)
        else:
            self.write_lines(report)

    def draw_bars(self, report: dict[str, Any]) -> None:
        """Move each stage's bar (and the job's) to its current progress."""
        if self.job_bar is None:
            self.job_bar = self.new_bar(f"job {self.job_id}", 0)
        for stage in report["stages"]:
            bar = self.bars.get(stage["id"])
            if bar is None:
                bar = self.bars[stage["id"]] = self.new_bar(
                    stage_label(stage, self.scene_numbers), len(self.bars) + 1
                )
            state = stage["status"]  # the API's words, as `tower jobs` and the dashboard show
            if stage.get("backend") and stage["status"] == "running":
                state = f"{state} on {stage['backend']}"
            move(bar, stage["progress"], state)
        move(self.job_bar, report["progress"], report["status"])

    def new_bar(self, label: str, position: int) -> tqdm:
        """A bar from 0 to 100 % at a fixed line."""
        return tqdm(
            total=100,
            desc=f"{label:<24}",
            position=position,
            file=self.stream,
            leave=True,
            bar_format="{desc} {bar:30} {percentage:3.0f}%{postfix}",
            # A pseudo-terminal may report a 0x0 size; tqdm then draws nothing.
            ncols=min(shutil.get_terminal_size((100, 40)).columns, 100),
            nrows=max(shutil.get_terminal_size((100, 40)).lines, 40),
        )

    def write_lines(self, report: dict[str, Any]) -> None:
        """Without a terminal: one line per stage status change and for the job's end."""
        for stage in report["stages"]:
            state = stage["status"]
            if self.seen.get(stage["id"]) == state:
                continue
            self.seen[stage["id"]] = state
            where = f" on {stage['backend']}" if stage.get("backend") else ""
            error = f": {stage['error']}" if stage.get("error") and state == "failed" else ""
            label = stage_label(stage, self.scene_numbers)
            self.stream.write(f"  {label:<24} {state}{where}{error}\n")
        key = -1
        if self.seen.get(key) != report["status"]:
            self.seen[key] = report["status"]
            percent = round(100 * float(report["progress"] or 0))
            self.stream.write(f"job {self.job_id}: {report['status']} ({percent}%)\n")
        self.stream.flush()

    def close(self) -> None:
        """Leave the bars on screen and move below them."""
        for bar in [*self.bars.values(), *([self.job_bar] if self.job_bar else [])]:
            bar.close()


def move(bar: tqdm, progress: float | None, status: str) -> None:
    """Set a bar to `progress` (0..1) with `status` beside it."""
    target = round(100 * float(progress or 0.0))
    if status == "succeeded":
        target = 100
    if target != bar.n:
        bar.n = target
    bar.set_postfix_str(status, refresh=False)
    bar.refresh()
