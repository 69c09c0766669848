"""Transition windows: the short stretches around scene boundaries that must be re-encoded."""

from __future__ import annotations

from collections.abc import Sequence
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
    """Encode one `window` to `out`.

    :raises FfmpegError: when ffmpeg fails.
    """
    render_windows([window], out, encoding)
    return Path(out)


def render_windows(windows: Sequence[Window], out: str | Path, encoding: Encoding) -> list[Part]:
    """Encode `windows` back to back into `out`, a keyframe at each one's first frame, and
    return each window's frame range in `out` as a Part (for the concat list).

    Batching saves a process, an x264 start-up and a muxer per window, roughly a third of
    a short window's CPU. Each part is trimmed by frame number; parts join by xfade or concat.

    :raises FfmpegError: when ffmpeg fails.
    """
    args: list[str | Path] = []
    chains: list[str] = []
    labels: list[str] = []
    for window in windows:
        labels.append(_window_graph(window, encoding, args, chains))
    if len(labels) > 1:
        chains.append(f"{''.join(labels)}concat=n={len(labels)}:v=1:a=0[all]")
        final = "[all]"
    else:
        final = labels[0]
    starts, total = [], 0
    for window in windows:
        starts.append(total)
        total += window.frames
    run_ffmpeg(
        [*args, "-filter_complex", ";".join(chains), "-map", final,
         "-frames:v", str(total), *encoding.encoder_args(tuple(starts)), out]
    )  # fmt: skip
    return [Part(Path(out), s, s + w.frames) for s, w in zip(starts, windows, strict=True)]


def _window_graph(window: Window, encoding: Encoding, args: list, chains: list[str]) -> str:
    """Append one window's inputs to `args` and filters to `chains`; return its output label."""
    fps = float(encoding.fps)
    first = sum(a == "-i" for a in args)
    tag = f"w{first}"
    for i, part in enumerate(window.parts):
        # One decoder thread each: a batch opens many inputs, each decoding a few frames.
        args += ["-threads", "1"]
        if part.start > 0:
            # Half a frame early: accurate input seeking then delivers exactly frame `start`
            # whichever way the decimal rounds.
            args += ["-ss", f"{(part.start - 0.5) / fps:.6f}"]
        args += ["-i", part.path]
        # fps= puts the frames exactly on the grid (clips here are within a quarter frame
        # of it) and gives the encoder the episode's rate, which x264 writes into the SPS.
        chains.append(
            f"[{first + i}:v]trim=end_frame={part.frames},setpts=PTS-STARTPTS,"
            f"fps={encoding.fps},settb=1/{encoding.timescale},{encoding.frame_tags()}"
            f"[{tag}p{i}]"
        )
    current, length = f"[{tag}p0]", window.parts[0].frames
    for i, part in enumerate(window.parts[1:], start=1):
        label = f"[{tag}j{i}]"
        kind = XFADE[part.join]
        if kind is None or part.join_frames == 0:
            # concat outputs a microsecond time base; xfade needs both inputs on the same one.
            chains.append(
                f"{current}[{tag}p{i}]concat=n=2:v=1:a=0,settb=1/{encoding.timescale}{label}"
            )
        else:
            offset = (length - part.join_frames) / fps
            chains.append(
                f"{current}[{tag}p{i}]xfade=transition={kind}:duration={part.join_frames / fps:.6f}"
                f":offset={offset:.6f}{label}"
            )
        current, length = label, length + part.frames - part.join_frames
    return current
