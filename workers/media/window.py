"""Transition windows: the short stretches around scene boundaries that must be re-encoded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workers.media.encoding import Encoding
from workers.media.tool import run_ffmpeg

# Tower's transition names -> ffmpeg xfade transitions (None: a hard cut, no overlap).
XFADE = {"cut": None, "crossfade": "fade", "fade_black": "fadeblack"}


@dataclass(frozen=True)
class Part:
    """Frames [start, end) of one clip, and the transition joining it to the previous part."""

    path: Path
    start: int
    end: int
    join: str = "cut"
    join_frames: int = 0

    @property
    def frames(self) -> int:
        """How many frames of the clip the part takes."""
        return self.end - self.start


@dataclass(frozen=True)
class Window:
    """A run of parts rendered into one short clip with their transitions applied."""

    parts: tuple[Part, ...]

    @property
    def frames(self) -> int:
        """Frames of output: the parts' frames less the transitions' overlaps."""
        return sum(p.frames for p in self.parts) - sum(p.join_frames for p in self.parts[1:])


def render_window(window: Window, out: str | Path, encoding: Encoding) -> Path:
    """Encode `window` to `out`: each part trimmed by frame number, joined by xfade or concat.

    :raises FfmpegError: when ffmpeg fails.
    """
    fps = float(encoding.fps)
    args: list[str | Path] = []
    chains: list[str] = []
    for i, part in enumerate(window.parts):
        if part.start > 0:
            # Half a frame early: accurate input seeking then delivers exactly frame `start`
            # whichever way the decimal rounds.
            args += ["-ss", f"{(part.start - 0.5) / fps:.6f}"]
        args += ["-i", part.path]
        chains.append(
            f"[{i}:v]trim=end_frame={part.frames},setpts=PTS-STARTPTS,"
            f"settb=1/{encoding.timescale},format={encoding.pix_fmt}[p{i}]"
        )
    current, length = "[p0]", window.parts[0].frames
    for i, part in enumerate(window.parts[1:], start=1):
        label = f"[j{i}]"
        kind = XFADE[part.join]
        if kind is None or part.join_frames == 0:
            # concat outputs a microsecond time base; xfade needs both inputs on the same one.
            chains.append(f"{current}[p{i}]concat=n=2:v=1:a=0,settb=1/{encoding.timescale}{label}")
        else:
            offset = (length - part.join_frames) / fps
            chains.append(
                f"{current}[p{i}]xfade=transition={kind}:duration={part.join_frames / fps:.6f}"
                f":offset={offset:.6f}{label}"
            )
        current, length = label, length + part.frames - part.join_frames
    run_ffmpeg(
        [*args, "-filter_complex", ";".join(chains), "-map", current,
         "-frames:v", str(window.frames), *encoding.encoder_args(), out]
    )  # fmt: skip
    return Path(out)
