"""Media facts of a file: duration, frame rate, frames, size, pixel format, codec, audio, hash."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av

from workers.media.container import ContainerError, read_video_track
from workers.media.tool import FfmpegError


@dataclass(frozen=True)
class MediaFacts:
    """What Tower records on an asset about a media file."""

    path: str
    duration_s: float
    fps: float
    frame_count: int
    width: int
    height: int
    pix_fmt: str
    codec: str
    has_audio: bool
    audio_codec: str
    size_bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return asdict(self)


def container_fact(path: str | Path, name: str) -> Any:
    """One fact a video's MP4 tables hold (`duration_s`, `has_audio`): read from them, which
    takes microseconds; by demuxing it when the file has no readable tables.

    :raises FfmpegError: when the file cannot be read as media either way.
    """
    try:
        return getattr(read_video_track(path), name)
    except ContainerError:
        return getattr(probe_media(path), name)


def probe_media(path: str | Path) -> MediaFacts:
    """The facts of the media file at `path`, its frames counted.

    :raises FfmpegError: when the file cannot be read as media.
    """
    path = Path(path)
    if not path.is_file():
        raise FfmpegError(f"{path}: no such file")
    facts = _read_streams(path)
    return MediaFacts(
        path=str(path), size_bytes=path.stat().st_size, sha256=hash_file(path), **facts
    )


def hash_file(path: str | Path) -> str:
    """The sha256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_streams(path: Path) -> dict[str, Any]:
    # PyAV's demuxer in this process: a file's facts for ~2 ms of CPU, where spawning ffprobe
    # cost ~65 ms (its shared libraries' loading) on every probe.
    try:
        with av.open(str(path)) as container:
            return _stream_facts(container)
    except (av.FFmpegError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise FfmpegError(f"{path}: not readable media ({reason})") from exc


def _stream_facts(container: av.container.InputContainer) -> dict[str, Any]:
    video = next((s for s in container.streams if s.type == "video"), None)
    audio = next((s for s in container.streams if s.type == "audio"), None)
    # Counting the packets (not the header's claim) as ffprobe's -count_packets did: a
    # truncated or hand-edited file's tables can say more than it holds.
    frames = sum(1 for packet in container.demux(video) if packet.size) if video else 0
    return {
        "duration_s": container.duration / av.time_base if container.duration else 0.0,
        "fps": float(video.average_rate or 0) if video else 0.0,
        "frame_count": frames,
        "width": video.codec_context.width if video else 0,
        "height": video.codec_context.height if video else 0,
        "pix_fmt": (video.codec_context.pix_fmt or "") if video else "",
        # The codec's own name (av1), not its decoder's (libdav1d).
        "codec": video.codec_context.codec.canonical_name if video else "",
        "has_audio": audio is not None,
        "audio_codec": audio.codec_context.codec.canonical_name if audio else "",
    }
