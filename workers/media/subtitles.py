"""WebVTT and SRT subtitles of an episode's dialogue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Subtitle:
    """One line on screen from start_s to end_s of the episode."""

    start_s: float
    end_s: float
    speaker: str
    text: str


def _clock(seconds: float, separator: str) -> str:
    millis = int(round(max(0.0, seconds) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _one_line(text: str) -> str:
    # A blank line ends a cue in both formats: keep each line's text on one line.
    return " ".join(text.split())


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_vtt(subtitles: Sequence[Subtitle], dest: Path) -> Path:
    """Write WebVTT, each cue voiced by its speaker (`<v Name>`)."""
    parts = ["WEBVTT", ""]
    for cue in subtitles:
        speaker = _vtt_escape(_one_line(cue.speaker))
        text = _vtt_escape(_one_line(cue.text))
        parts += [
            f"{_clock(cue.start_s, '.')} --> {_clock(cue.end_s, '.')}",
            f"<v {speaker}>{text}" if speaker else text,
            "",
        ]
    dest.write_text("\n".join(parts), encoding="utf-8")
    return dest


def write_srt(subtitles: Sequence[Subtitle], dest: Path) -> Path:
    """Write SubRip, each line prefixed by its speaker's name."""
    parts = []
    for number, cue in enumerate(subtitles, start=1):
        text = _one_line(cue.text)
        parts += [
            str(number),
            f"{_clock(cue.start_s, ',')} --> {_clock(cue.end_s, ',')}",
            f"{_one_line(cue.speaker)}: {text}" if cue.speaker.strip() else text,
            "",
        ]
    dest.write_text("\n".join(parts), encoding="utf-8")
    return dest
