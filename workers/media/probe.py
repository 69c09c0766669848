"""Media facts of a file: duration, frame rate, frames, size, pixel format, codec, audio, hash."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workers.media.container import ContainerError, read_video_track
from workers.media.tool import FfmpegError, find_ffprobe, run_ffmpeg


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
    takes microseconds; from ffprobe (a process) when the file has no readable tables.

    :raises FfmpegError: when the file cannot be read as media either way.
    """
    try:
        return getattr(read_video_track(path), name)
    except ContainerError:
        return getattr(probe_media(path), name)


def probe_media(path: str | Path) -> MediaFacts:
    """Probe `path` with the system ffprobe if present, else by parsing `ffmpeg -i`.

    :raises FfmpegError: when the file cannot be read as media.
    """
    path = Path(path)
    if not path.is_file():
        raise FfmpegError(f"{path}: no such file")
    probe = _probe_with_ffprobe if find_ffprobe() else _probe_with_ffmpeg
    facts = probe(path)
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


def _probe_with_ffprobe(path: Path) -> dict[str, Any]:
    cmd = [find_ffprobe() or "ffprobe", "-v", "error", "-count_packets", "-print_format",
           "json", "-show_streams", "-show_format", str(path)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise FfmpegError(f"ffprobe failed on {path}: {proc.stderr.decode(errors='replace')}")
    data = json.loads(proc.stdout)
    video = next((s for s in data["streams"] if s["codec_type"] == "video"), {})
    audio = next((s for s in data["streams"] if s["codec_type"] == "audio"), {})
    num, _, den = video.get("avg_frame_rate", "0/1").partition("/")
    return {
        "duration_s": float(data["format"].get("duration", 0.0)),
        "fps": float(num) / float(den) if float(den or 0) else 0.0,
        "frame_count": int(video.get("nb_read_packets", 0)),
        "width": int(video.get("width", 0)),
        "height": int(video.get("height", 0)),
        "pix_fmt": video.get("pix_fmt", ""),
        "codec": video.get("codec_name", ""),
        "has_audio": bool(audio),
        "audio_codec": audio.get("codec_name", ""),
    }


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #0:\d+.*?: Video: (\w+)[^,]*, (\w+)(?:\([^)]*\))?, (\d+)x(\d+)")
_FPS = re.compile(r"(\d+(?:\.\d+)?) fps")
_AUDIO = re.compile(r"Stream #0:\d+.*?: Audio: (\w+)")
_FRAMES = re.compile(r"frame=\s*(\d+)")


def _probe_with_ffmpeg(path: Path) -> dict[str, Any]:
    # Copying the video packets to the null muxer counts frames without decoding them.
    try:
        proc = run_ffmpeg(["-i", path, "-map", "0:v:0?", "-c", "copy", "-f", "null", "-"])
    except FfmpegError as exc:
        raise FfmpegError(f"{path}: not readable media ({exc.message})") from exc
    text = proc.stderr.decode("utf-8", "replace")
    duration = _DURATION.search(text)
    video = _VIDEO.search(text)
    audio = _AUDIO.search(text)
    fps = _FPS.search(video.string[video.end() :].splitlines()[0]) if video else None
    frames = _FRAMES.findall(text)
    return {
        "duration_s": (
            int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3])
            if duration
            else 0.0
        ),
        "fps": float(fps[1]) if fps else 0.0,
        "frame_count": int(frames[-1]) if frames and video else 0,
        "width": int(video[3]) if video else 0,
        "height": int(video[4]) if video else 0,
        "pix_fmt": video[2] if video else "",
        "codec": video[1] if video else "",
        "has_audio": bool(audio),
        "audio_codec": audio[1] if audio else "",
    }
