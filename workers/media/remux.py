"""Joining stream-copied frame ranges into one MP4, each frame stamped by where it shows.

Packets are copied in decode order; with B-frames that is not presentation order, so a
frame's new timestamp comes from its presentation index in its clip (from the MP4 tables),
never from its position in the stream. Decode timestamps run one frame apart, started as
many frames early as the deepest reordering among the ranges, so each frame is decoded no
later than shown. PyAV gives this packet-level control in-process; the ffmpeg CLI's concat
demuxer cuts by decode time and offsets files by rounded durations.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from fractions import Fraction
from pathlib import Path

import av

from shared.errors import PermanentError
from workers.media.container import VideoTrack
from workers.media.encoding import Encoding
from workers.media.window import Part

log = logging.getLogger(__name__)


class SpliceError(PermanentError):
    """A range to copy does not start or end where its clip can be cut, or is unreadable."""

    code = "bad_splice"


def join_ranges(
    parts: Sequence[Part], tracks: Mapping[Path, VideoTrack], enc: Encoding, out: str | Path
) -> None:
    """Write `parts` (frame ranges of clips that share one codec configuration) back to back
    into the MP4 `out`, on `enc`'s constant frame rate and timescale.

    :raises SpliceError: when a range is not bounded by cut points or a file is unreadable.
    """
    for part in parts:
        track = tracks[part.path]
        if part.start not in track.cut_points or part.end not in track.end_points:
            raise SpliceError(f"{part.path}: frames {part.start}-{part.end} cannot be cut out")
    delay = max(_delay(tracks[p.path], p) for p in parts)
    ticks, base = enc.frame_ticks, Fraction(1, enc.timescale)
    options = {"video_track_timescale": str(enc.timescale)}
    try:
        with ExitStack() as stack:
            dst = stack.enter_context(av.open(str(out), "w", format="mp4", options=options))
            readers = _Readers(stack)
            stream = None
            shown = decoded = 0
            for part in parts:
                source, packets = readers.seek(part.path, part.start)
                if stream is None:
                    stream = dst.add_stream_from_template(source)
                    stream.time_base = base
                ranks = tracks[part.path].ranks
                for index in range(part.start, part.end):
                    packet = next(packets)
                    packet.time_base = base
                    packet.pts = (shown + ranks[index] - part.start) * ticks
                    packet.dts = (decoded - delay) * ticks
                    packet.duration = ticks
                    packet.stream = stream
                    dst.mux(packet)
                    decoded += 1
                readers.advanced(part.path, part.end)
                shown += part.frames
    except (av.FFmpegError, StopIteration) as exc:
        raise SpliceError(f"stream copy into {out} failed: {exc}") from exc
    log.debug("joined ranges=%d frames=%d delay=%d", len(parts), shown, delay)


def _delay(track: VideoTrack, part: Part) -> int:
    """How far decoding runs ahead of presentation inside the range, in frames."""
    ranks = track.ranks[part.start : part.end]
    return max((i - (r - part.start) for i, r in enumerate(ranks)), default=0)


class _Readers:
    """One open demuxer per file, read forward: a batch of windows is one file whose
    ranges the timeline visits in order, so it is opened and read once."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._open: dict[Path, tuple[av.VideoStream, Iterator[av.Packet], int]] = {}

    def seek(self, path: Path, start: int) -> tuple[av.VideoStream, Iterator[av.Packet]]:
        """The video stream of `path` and its packets from decode index `start` on."""
        entry = self._open.get(path)
        if entry is None or entry[2] > start:
            container = self._stack.enter_context(av.open(str(path)))
            stream = container.streams.video[0]
            packets = (p for p in container.demux(stream) if p.size)
            entry = (stream, packets, 0)
        stream, packets, position = entry
        for _ in range(start - position):
            next(packets)
        self._open[path] = (stream, packets, start)
        return stream, packets

    def advanced(self, path: Path, position: int) -> None:
        """Record that `path` has been read up to decode index `position`."""
        stream, packets, _ = self._open[path]
        self._open[path] = (stream, packets, position)
