"""Reading an MP4's track tables directly: frame count, frame timing, keyframes, codec config.

The compiler needs these for every clip on every compile; spawning ffprobe/ffmpeg per clip
costs ~50 ms each, which alone would break the stream-copy speed bar, while the MP4 `moov`
box answers in well under a millisecond.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from shared.errors import PermanentError

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}


class ContainerError(PermanentError):
    """The file is not an MP4 Tower can read (truncated, no moov, no video track)."""

    code = "bad_container"


@dataclass(frozen=True)
class VideoTrack:
    """The facts of an MP4's first video track that compiling depends on."""

    codec: str
    width: int
    height: int
    timescale: int
    frame_count: int
    duration_ticks: int
    frame_ticks: int | None
    keyframes: tuple[int, ...]
    codec_config: bytes
    has_audio: bool

    @property
    def duration_s(self) -> float:
        """The track's media duration in seconds."""
        return self.duration_ticks / self.timescale

    def fps_matches(self, fps: float) -> bool:
        """Whether every frame lasts exactly 1/fps (constant frame rate at `fps`)."""
        return self.frame_ticks is not None and abs(self.timescale / self.frame_ticks - fps) < 1e-6


def read_video_track(path: str | Path) -> VideoTrack:
    """Read the first video track's tables from the MP4 at `path`.

    :raises ContainerError: when the file has no readable moov or no video track.
    """
    moov = _read_moov(Path(path))
    video: VideoTrack | None = None
    has_audio = False
    for trak in _children(moov, b"trak"):
        mdia = _child(trak, b"mdia")
        handler = _child(mdia, b"hdlr")[8:12]
        if handler == b"soun":
            has_audio = True
        elif handler == b"vide" and video is None:
            video = _parse_video(mdia)
    if video is None:
        raise ContainerError(f"{path}: no video track")
    return VideoTrack(**{**video.__dict__, "has_audio": has_audio})


def _read_moov(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            while True:
                header = fh.read(8)
                if len(header) < 8:
                    break
                size, kind = struct.unpack(">I4s", header)
                head = 8
                if size == 1:
                    size = struct.unpack(">Q", fh.read(8))[0]
                    head = 16
                if kind == b"moov":
                    return fh.read((size - head) if size else -1)
                if size == 0:
                    break
                fh.seek(size - head, 1)
    except OSError as exc:
        raise ContainerError(f"{path}: {exc}") from exc
    raise ContainerError(f"{path}: no moov box (not an MP4 or not finished writing)")


def _boxes(data: bytes):
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            head = 16
        elif size == 0:
            size = len(data) - pos
        if size < head:
            raise ContainerError("corrupt box size")
        yield kind, data[pos + head : pos + size]
        pos += size


def _children(data: bytes, kind: bytes) -> list[bytes]:
    return [body for k, body in _boxes(data) if k == kind]


def _child(data: bytes, kind: bytes) -> bytes:
    for k, body in _boxes(data):
        if k == kind:
            return body
    raise ContainerError(f"missing {kind.decode()} box")


def _parse_video(mdia: bytes) -> VideoTrack:
    mdhd = _child(mdia, b"mdhd")
    if mdhd[0] == 1:
        timescale = struct.unpack_from(">I", mdhd, 20)[0]
    else:
        timescale = struct.unpack_from(">I", mdhd, 12)[0]
    stbl = _child(_child(mdia, b"minf"), b"stbl")
    stsd = _child(stbl, b"stsd")
    # stsd: version/flags, entry count, then the first sample entry box.
    entry_size, codec = struct.unpack_from(">I4s", stsd, 8)
    entry = stsd[16 : 8 + entry_size]
    width, height = struct.unpack_from(">HH", entry, 24)
    config = b""
    for kind, body in _boxes(entry[78:]):
        if kind in (b"avcC", b"hvcC"):
            config = body
    deltas: list[tuple[int, int]] = []
    stts = _child(stbl, b"stts")
    for i in range(struct.unpack_from(">I", stts, 4)[0]):
        deltas.append(struct.unpack_from(">II", stts, 8 + 8 * i))
    frame_count = sum(count for count, _ in deltas)
    duration = sum(count * delta for count, delta in deltas)
    distinct = {delta for count, delta in deltas if count}
    keyframes: tuple[int, ...]
    stss = [body for kind, body in _boxes(stbl) if kind == b"stss"]
    if stss:
        n = struct.unpack_from(">I", stss[0], 4)[0]
        keyframes = tuple(k - 1 for k in struct.unpack_from(f">{n}I", stss[0], 8))
    else:
        keyframes = tuple(range(frame_count))
    return VideoTrack(
        codec=codec.decode("latin-1"),
        width=width,
        height=height,
        timescale=timescale,
        frame_count=frame_count,
        duration_ticks=duration,
        frame_ticks=distinct.pop() if len(distinct) == 1 else None,
        keyframes=keyframes,
        codec_config=config,
        has_audio=False,
    )
