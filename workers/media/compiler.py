"""Compiling ordered scene clips into an episode, stream-copying all but the transitions.

ffmpeg does the work rather than moviepy: moviepy decodes every frame into numpy and
re-encodes the whole episode, while here the compressed frames of clips already in the
episode's format are copied untouched and only the short transition windows (and clips
in another format) are decoded and re-encoded, with the x264 settings the copied clips
were made with, so both share one stream.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from shared.errors import PermanentError, ValidationError
from workers.media.card import Card, render_card
from workers.media.conformance import conforms, episode_encoding
from workers.media.container import (
    ContainerError,
    TruncatedMedia,
    VideoTrack,
    read_video_track,
)
from workers.media.encoding import Encoding, make_encoding
from workers.media.normalise import encode_clip
from workers.media.remux import join_ranges
from workers.media.splice import Clip, plan_segments
from workers.media.staging import stage_output
from workers.media.window import XFADE, Part, Window, render_windows

log = logging.getLogger(__name__)

# Windows per ffmpeg process: enough to amortise start-up, few enough that the decoders
# a batch opens (two or three inputs per window) stay small.
WINDOWS_PER_PROCESS = 8


@dataclass(frozen=True)
class ClipSpec:
    """One scene clip and the transition from it into the next clip (ignored on the last)."""

    path: str | Path
    transition: str = "cut"
    transition_s: float = 0.0
    label: str = ""
    kind: str = "scene"  # or "bridge": a generated transition between two scenes


@dataclass(frozen=True)
class Placement:
    """Where one clip landed in the episode; head/tail are the transitions' overlaps."""

    kind: str
    index: int
    source: str
    start_s: float
    end_s: float
    head_s: float
    tail_s: float
    frames: int


@dataclass(frozen=True)
class CompileResult:
    """The compiled episode and how it was made."""

    path: Path
    duration_s: float
    frame_count: int
    fps: float
    width: int
    height: int
    placements: tuple[Placement, ...]
    copied_frames: int
    reencoded_frames: int
    windows: int
    fast_path: bool
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form for storing on the episode asset."""
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def compile_episode(
    clips: Sequence[ClipSpec],
    dest: str | Path,
    *,
    fps: float | Fraction,
    width: int,
    height: int,
    title_card: Card | None = None,
    end_card: Card | None = None,
    gop_frames: int | None = None,
    workers: int = 2,
) -> CompileResult:
    """Join `clips` in order with their transitions (and optional cards) into `dest`.

    Clips already in the episode's format (size, frame rate by timestamp, 8-bit 4:2:0
    H.264) and sharing the most common codec parameters are stream-copied, B-frames and
    all; the transition windows, and clips that are not, are re-encoded.

    :raises ValidationError: on no clips, an unknown transition or one longer than a clip.
    :raises TruncatedMedia: when a clip's MP4 ends before its frames do.
    :raises FfmpegError: when ffmpeg fails on a clip.
    """
    if not clips:
        raise ValidationError("an episode needs at least one clip", fields={"clips": "empty"})
    _check_transition_names([*clips, *(c for c in (title_card, end_card) if c)])
    encoding = make_encoding(fps=fps, width=width, height=height, gop_frames=gop_frames)
    encoding = episode_encoding([_try_track(c.path) for c in clips], [c.path for c in clips],
                                encoding)  # fmt: skip
    with stage_output(dest) as (work, out):
        specs = _with_cards(clips, title_card, end_card, encoding, work)
        loaded = _load_clips(specs, encoding, work, workers)
        _assign_transitions(loaded, specs, encoding)
        result = _assemble(loaded, specs, encoding, work, out, workers)
    result = CompileResult(**{**result.__dict__, "path": Path(dest)})
    log.info(
        "compiled episode dest=%s clips=%d frames=%d copied=%d reencoded=%d windows=%d",
        dest, len(clips), result.frame_count, result.copied_frames, result.reencoded_frames,
        result.windows,
    )  # fmt: skip
    return result


def _check_transition_names(items: Sequence[ClipSpec | Card]) -> None:
    """Reject unknown transitions and negative durations before any work is done."""
    for i, item in enumerate(items):
        if item.transition not in XFADE or item.transition_s < 0:
            raise ValidationError(
                f"bad transition {item.transition!r} ({item.transition_s} s)",
                fields={f"clips[{i}].transition": f"one of {', '.join(XFADE)}, duration >= 0"},
            )


def _with_cards(
    clips: Sequence[ClipSpec], title: Card | None, end: Card | None, enc: Encoding, work: Path
) -> list[tuple[str, ClipSpec]]:
    specs = [(c.kind, c) for c in clips]
    if title is not None:
        path = render_card(title, work / "title.mp4", enc, keyframe_s=0.0)
        specs.insert(0, ("card", ClipSpec(path, title.transition, title.transition_s, "title")))
    if end is not None:
        path = render_card(end, work / "end.mp4", enc, keyframe_s=end.transition_s)
        kind, last = specs[-1]
        specs[-1] = (
            kind,
            ClipSpec(last.path, end.transition, end.transition_s, last.label, last.kind),
        )
        specs.append(("card", ClipSpec(path, "cut", 0.0, "end")))
    return specs


def _load_clips(
    specs: list[tuple[str, ClipSpec]], enc: Encoding, work: Path, workers: int
) -> list[Clip]:
    """Read every clip's tables; normalise (in the scratch dir) those not in the format."""
    tracks = [_try_track(spec.path) for _, spec in specs]
    paths = [Path(spec.path) for _, spec in specs]
    todo = [i for i, t in enumerate(tracks) if t is None or not conforms(t, enc)]

    def normalise(i: int) -> None:
        head = _frames(specs[i - 1][1].transition_s, enc) if i else 0
        paths[i] = work / f"norm{i:04d}.mp4"
        encode_clip(specs[i][1].path, paths[i], enc, keyframes_s=[head / enc.fps])
        tracks[i] = read_video_track(paths[i])

    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(pool.map(normalise, todo))
    if todo:
        log.info("normalised %d clips that were not in the episode format", len(todo))
    reference = Counter(t.codec_config for t in tracks).most_common(1)[0][0]
    return [
        Clip(path, track, copyable=track.codec_config == reference)
        for path, track in zip(paths, tracks, strict=True)
    ]


def _try_track(path: str | Path) -> VideoTrack | None:
    """The clip's MP4 track, or None for other containers (they get normalised).

    :raises TruncatedMedia: when the clip's file ends before its frames do: normalising
        would decode the frames that are there and shorten the scene without a word.
    """
    try:
        return read_video_track(path)
    except TruncatedMedia:
        raise
    except ContainerError:
        return None


def _frames(seconds: float, enc: Encoding) -> int:
    return max(0, round(seconds * enc.fps))


def _assign_transitions(
    clips: list[Clip], specs: list[tuple[str, ClipSpec]], enc: Encoding
) -> None:
    for i, (_, spec) in enumerate(specs[:-1]):
        frames = 0 if XFADE[spec.transition] is None else _frames(spec.transition_s, enc)
        clips[i].join, clips[i].tail, clips[i + 1].head = spec.transition, frames, frames
    for i, clip in enumerate(clips):
        if clip.head + clip.tail > clip.track.frame_count:
            raise ValidationError(
                f"clip {i} ({clip.track.frame_count} frames) is shorter than its transitions",
                fields={f"clips[{i}].transition_s": "transitions overlap inside the clip"},
            )


def _assemble(
    clips: list[Clip],
    specs: list[tuple[str, ClipSpec]],
    enc: Encoding,
    work: Path,
    out: Path,
    workers: int,
) -> CompileResult:
    segments = plan_segments(clips)
    windows = [s for s in segments if isinstance(s, Window)]
    rendered = _render_batches(windows, enc, work, workers)
    copyable = {c.track.codec_config for c in clips if c.copyable}
    tracks = _rendered_tracks(rendered)
    notes: list[str] = []
    if len(segments) > len(windows) and {t.codec_config for t in tracks.values()} - copyable:
        # The local x264 wrote different parameter sets than the clips carry (another
        # encoder, build or settings): copied and re-encoded pieces cannot share one stream.
        notes.append("codec parameters differ from the clips'; re-encoded the whole episode")
        log.warning("compile falling back to a full re-encode: codec parameters differ")
        for clip in clips:
            clip.copyable = False
        segments = plan_segments(clips)
        rendered = _render_batches(segments, enc, work, workers)
        tracks = _rendered_tracks(rendered)
    parts = [rendered[id(s)] if isinstance(s, Window) else s for s in segments]
    join_ranges(parts, {**{c.path: c.track for c in clips}, **tracks}, enc, out)
    expected = sum(s.frames for s in segments)
    track = read_video_track(out)
    if track.frame_count != expected or not track.on_grid(enc.fps):
        raise PermanentError(f"compiled {track.frame_count} frames off the frame grid, "
                             f"planned {expected}")  # fmt: skip
    copied = sum(s.frames for s in segments if not isinstance(s, Window))
    return CompileResult(
        path=out,
        duration_s=expected / float(enc.fps),
        frame_count=expected,
        fps=float(enc.fps),
        width=enc.width,
        height=enc.height,
        placements=_placements(clips, specs, enc),
        copied_frames=copied,
        reencoded_frames=expected - copied,
        windows=sum(isinstance(s, Window) for s in segments),
        fast_path=copied > 0,
        notes=tuple(notes),
    )


def _rendered_tracks(rendered: dict[int, Part]) -> dict[Path, VideoTrack]:
    return {path: read_video_track(path) for path in {p.path for p in rendered.values()}}


def _render_batches(
    windows: list[Window], enc: Encoding, work: Path, workers: int
) -> dict[int, Part]:
    """Render windows in batches (bounded, so memory stays flat) across `workers` processes."""
    size = max(1, min(WINDOWS_PER_PROCESS, -(-len(windows) // max(1, workers))))
    batches = [windows[i : i + size] for i in range(0, len(windows), size)]
    rendered: dict[int, Part] = {}

    def render(index: int) -> None:
        out = work / f"windows{index:04d}-{uuid.uuid4().hex[:8]}.mp4"
        batch = batches[index]
        for window, part in zip(batch, render_windows(batch, out, enc), strict=True):
            rendered[id(window)] = part

    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(pool.map(render, range(len(batches))))
    return rendered


def _placements(
    clips: list[Clip], specs: list[tuple[str, ClipSpec]], enc: Encoding
) -> tuple[Placement, ...]:
    placed, start, scene = [], 0, 0
    for clip, (kind, spec) in zip(clips, specs, strict=True):
        n = clip.track.frame_count
        fps = float(enc.fps)
        placed.append(
            Placement(
                kind=kind,
                index=scene if kind == "scene" else -1,
                source=f"{spec.label} card" if kind == "card" else str(spec.path),
                start_s=start / fps,
                end_s=(start + n) / fps,
                head_s=clip.head / fps,
                tail_s=clip.tail / fps,
                frames=n,
            )
        )
        scene += kind == "scene"
        start += n - clip.tail
    return tuple(placed)
