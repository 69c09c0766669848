"""Checking an audio file before the library takes it: it decodes to the end, its length fits
its kind, and its sample rate is one the mixer resamples cleanly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ValidationError
from workers.media.tool import FfmpegError, run_ffmpeg

# Seconds a library file of each kind may last: a music loop or bed, a one-shot effect.
LENGTHS = {"music": (1.0, 1800.0), "sfx": (0.05, 60.0)}
SAMPLE_RATES = (22050, 192000)

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_AUDIO = re.compile(r"Stream #0:\d+.*?: Audio: (\w+).*?, (\d+) Hz, ([^,]+)")
_TIME = re.compile(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class AudioFacts:
    """What the library keeps of a checked file."""

    duration_s: float
    sample_rate: int
    channels: str
    codec: str


def check_audio_file(path: str | Path, *, kind: str) -> AudioFacts:
    """Decode `path` to the end and check its length and sample rate for a `kind` entry.

    :raises ValidationError: naming the field `file`, when it is not decodable audio or its
        length or sample rate is out of bounds.
    """
    try:
        # Decoding every packet to the null muxer finds a file truncated or corrupt mid-way.
        proc = run_ffmpeg(["-v", "info", "-xerror", "-i", path, "-map", "0:a:0",
                           "-f", "null", "-"], timeout_s=600.0)  # fmt: skip
    except FfmpegError as exc:
        reason = exc.message.replace(str(path), Path(path).name)
        raise refused(f"is not decodable audio ({reason})") from exc
    text = proc.stderr.decode("utf-8", "replace")
    audio = _AUDIO.search(text)
    if audio is None:
        raise refused("has no audio stream")
    decoded = _TIME.findall(text)
    duration = seconds(decoded[-1]) if decoded else 0.0
    if not duration and (header := _DURATION.search(text)):
        duration = seconds(header.groups())
    facts = AudioFacts(round(duration, 3), int(audio[2]), audio[3].strip(), audio[1])
    shortest, longest = LENGTHS[kind]
    if not shortest <= facts.duration_s <= longest:
        raise refused(
            f"lasts {facts.duration_s:g} s; a {kind} entry lasts {shortest:g} to {longest:g} s"
        )
    low, high = SAMPLE_RATES
    if not low <= facts.sample_rate <= high:
        raise refused(f"is sampled at {facts.sample_rate} Hz; {low} to {high} Hz is accepted")
    return facts


def seconds(parts: tuple[str, str, str]) -> float:
    """h, m, s strings as seconds."""
    return int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])


def refused(reason: str) -> ValidationError:
    """The error for a file the library refuses."""
    return ValidationError(f"the audio file {reason}", fields={"file": reason})
