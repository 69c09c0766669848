"""Mixing an episode's soundtrack (music, effects, dialogue) and muxing it under the video.

Samples are mixed with numpy in fixed-size blocks (pydub's overlay re-copies the whole
track per cue, which is far too slow for a 22-minute episode) and streamed straight into
ffmpeg, so memory stays flat however long the episode is. ffmpeg measures loudness (EBU
R128), limits peaks, encodes AAC and copies the video stream untouched.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.errors import ValidationError
from workers.media.loudness import Loudness, feed_process, measure_blocks, parse_summary
from workers.media.pcm import MIX_RATE, decode_audio
from workers.media.probe import container_fact
from workers.media.staging import stage_output
from workers.media.tool import find_ffmpeg

log = logging.getLogger(__name__)

BLOCK = MIX_RATE * 10
CONTROL_RATE = 100
ATTACK_S = 0.08
RELEASE_S = 0.4


@dataclass(frozen=True)
class MusicCue:
    """A music file looped from start_s to end_s of the episode (crossfaded at the edges)."""

    path: str | Path
    start_s: float
    end_s: float
    gain_db: float = 0.0
    loop_start_s: float | None = None  # the stretch repeated after the first pass
    loop_end_s: float | None = None


@dataclass(frozen=True)
class SfxCue:
    """A sound effect starting at at_s of the episode; music ducks under it."""

    path: str | Path
    at_s: float
    gain_db: float = 0.0


@dataclass(frozen=True)
class DialogueCue:
    """A dialogue track starting at at_s of the episode; music ducks under it."""

    path: str | Path
    at_s: float
    gain_db: float = 0.0


@dataclass(frozen=True)
class MixResult:
    """The muxed episode and its loudness as measured on the output file."""

    path: Path
    integrated_lufs: float
    true_peak_db: float
    lra: float
    duration_s: float
    gain_db: float
    passes: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form for the output asset."""
        return {**asdict(self), "path": str(self.path)}


@dataclass(frozen=True)
class _Layer:
    samples: np.ndarray
    start: int
    end: int
    fade_in: int
    fade_out: int
    gain: float
    loop: bool
    loop_from: int = 0  # a looping layer plays on to loop_to, then repeats [loop_from, loop_to)
    loop_to: int = 0


def mix_episode(
    video: str | Path,
    dest: str | Path,
    *,
    music: Sequence[MusicCue],
    sfx: Sequence[SfxCue] = (),
    dialogue: Sequence[DialogueCue] = (),
    crossfade_s: float = 2.0,
    duck_db: float = 10.0,
    target_lufs: float = -16.0,
    true_peak_db: float = -1.0,
    bitrate: str = "192k",
) -> MixResult:
    """Mix the cues to `video`'s length, normalise loudness, mux AAC under the copied video.

    Music cues overlap by `crossfade_s` around their boundaries (equal-power fades); music
    drops by `duck_db` under effects and dialogue. Loudness is measured on the mix, the
    gain set to reach `target_lufs`, peaks limited below `true_peak_db`, and the result
    measured on the final mix as it enters the AAC encoder (those values are returned).

    :raises ValidationError: on a cue outside the episode or with end before start.
    :raises FfmpegError: when ffmpeg fails to decode a cue or write the output.
    """
    duration = container_fact(video, "duration_s")
    total = int(round(duration * MIX_RATE))
    music_layers, shots, duck = _build(music, sfx, dialogue, total, crossfade_s, duck_db)

    def blocks(gain_db: float) -> Iterator[np.ndarray]:
        return _render(total, music_layers, shots, duck, 10 ** (gain_db / 20))

    measured = measure_blocks(blocks(0.0), sample_rate=MIX_RATE)
    silent = not math.isfinite(measured.integrated_lufs) or measured.integrated_lufs < -69
    gain = 0.0 if silent else target_lufs - measured.integrated_lufs
    with stage_output(dest) as (_work, out):
        for attempt in (1, 2):
            final = _encode(blocks(gain), video, out, true_peak_db, bitrate)
            miss = target_lufs - final.integrated_lufs
            # Heavy limiting can pull the programme under target; one corrective pass.
            if silent or abs(miss) <= 0.5 or attempt == 2:
                break
            gain += miss
    log.info(
        "mixed episode dest=%s lufs=%.1f tp=%.1f lra=%.1f gain=%.1f passes=%d",
        dest, final.integrated_lufs, final.true_peak_db or 0.0, final.lra, gain, attempt,
    )  # fmt: skip
    return MixResult(
        path=Path(dest),
        integrated_lufs=final.integrated_lufs,
        true_peak_db=final.true_peak_db if final.true_peak_db is not None else -math.inf,
        lra=final.lra,
        duration_s=duration,
        gain_db=round(gain, 2),
        passes=attempt,
    )


def _build(music, sfx, dialogue, total, crossfade_s, duck_db):
    """Decode every cue once and lay it out in samples; build the ducking envelope."""
    cache: dict[str, np.ndarray] = {}

    def load(path: str | Path) -> np.ndarray:
        key = str(path)
        if key not in cache:
            cache[key] = decode_audio(path)
        return cache[key]

    half = int(crossfade_s * MIX_RATE / 2)
    layers = []
    for i, cue in enumerate(music):
        start, end = int(cue.start_s * MIX_RATE), int(cue.end_s * MIX_RATE)
        if not 0 <= start < end or start >= total:
            raise ValidationError(
                f"music cue {i} ({cue.start_s}-{cue.end_s} s) is outside the episode",
                fields={f"music[{i}]": f"needs 0 <= start < end, start < {total / MIX_RATE:g}"},
            )
        lo, hi = max(0, start - half), min(total, end + half)
        fade_in = 0 if start == 0 else start + half - lo
        fade_out = min(2 * half, hi - lo) if end < total else min(2 * half, hi - lo) // 2
        gain = 10 ** (cue.gain_db / 20)
        samples = load(cue.path)
        loop_from, loop_to = _loop_samples(cue, len(samples))
        layers.append(_Layer(samples, lo, hi, fade_in, fade_out, gain, True, loop_from, loop_to))
    shots = []
    depth = np.zeros(int(total / MIX_RATE * CONTROL_RATE) + 2)
    for name, cues in (("sfx", sfx), ("dialogue", dialogue)):
        for i, cue in enumerate(cues):
            at = int(cue.at_s * MIX_RATE)
            if not 0 <= at < total:
                raise ValidationError(
                    f"{name} cue {i} at {cue.at_s} s is outside the episode",
                    fields={f"{name}[{i}].at_s": f"must be in [0, {total / MIX_RATE:g})"},
                )
            samples = load(cue.path)
            end = min(total, at + len(samples))
            shots.append(_Layer(samples, at, end, 0, 0, 10 ** (cue.gain_db / 20), False))
            _add_duck(depth, at / MIX_RATE, end / MIX_RATE)
    duck_gain = 10 ** (-abs(duck_db) * depth / 20)
    return layers, shots, duck_gain


def _loop_samples(cue: MusicCue, length: int) -> tuple[int, int]:
    """The sample range a music cue repeats: its loop points, else the whole file."""
    if cue.loop_start_s is None or cue.loop_end_s is None:
        return 0, length
    start = min(int(round(cue.loop_start_s * MIX_RATE)), length - 1)
    return start, max(start + 1, min(length, int(round(cue.loop_end_s * MIX_RATE))))


def _add_duck(depth: np.ndarray, start_s: float, end_s: float) -> None:
    """Raise the ducking depth to 1 over [start, end], ramping in/out around it."""
    t = np.arange(len(depth)) / CONTROL_RATE
    lo = max(0, int((start_s - ATTACK_S) * CONTROL_RATE))
    hi = min(len(depth), int((end_s + RELEASE_S) * CONTROL_RATE) + 2)
    seg = t[lo:hi]
    ramp_in = np.clip((seg - (start_s - ATTACK_S)) / ATTACK_S, 0, 1)
    ramp_out = np.clip(((end_s + RELEASE_S) - seg) / RELEASE_S, 0, 1)
    depth[lo:hi] = np.maximum(depth[lo:hi], np.minimum(ramp_in, ramp_out))


def _render(
    total: int, music: list[_Layer], shots: list[_Layer], duck: np.ndarray, gain: float
) -> Iterator[np.ndarray]:
    control_t = np.arange(len(duck)) / CONTROL_RATE
    for b0 in range(0, total, BLOCK):
        b1 = min(total, b0 + BLOCK)
        bed = np.zeros((b1 - b0, 2), np.float32)
        for layer in music:
            _add_layer(bed, layer, b0, b1)
        bed *= np.interp(np.arange(b0, b1) / MIX_RATE, control_t, duck).astype(np.float32)[:, None]
        for shot in shots:
            _add_layer(bed, shot, b0, b1)
        if gain != 1.0:
            bed *= np.float32(gain)
        yield bed


def _add_layer(out: np.ndarray, layer: _Layer, b0: int, b1: int) -> None:
    s, e = max(b0, layer.start), min(b1, layer.end)
    if s >= e:
        return
    pos = np.arange(s - layer.start, e - layer.start)
    if layer.loop:
        a, b = layer.loop_from, layer.loop_to
        source = np.where(pos < b, pos, a + (pos - a) % (b - a))
        seg = np.take(layer.samples, source, axis=0, mode="wrap")
    else:
        seg = layer.samples[pos[0] : pos[-1] + 1]
    env = np.full(len(pos), layer.gain, np.float32)
    if layer.fade_in:
        head = pos < layer.fade_in
        env[head] *= np.sin(0.5 * np.pi * pos[head] / layer.fade_in)
    if layer.fade_out:
        left = (layer.end - layer.start) - pos
        tail = left < layer.fade_out
        env[tail] *= np.sin(0.5 * np.pi * left[tail] / layer.fade_out)
    out[s - b0 : e - b0] += seg * env[:, None]


def _encode(
    blocks: Iterator[np.ndarray], video: str | Path, out: Path, true_peak_db: float, bitrate: str
) -> Loudness:
    """Limit, encode AAC and mux under the copied video; measure what goes to the encoder.

    The meter is a branch of the same filter graph, so it runs on its own thread alongside
    the AAC encoder instead of costing a second decoding pass over the output.
    """
    # Sample-peak limiting 1 dB under the true-peak ceiling leaves room for inter-sample
    # peaks and AAC overshoot.
    limit = min(1.0, max(0.0625, 10 ** ((true_peak_db - 1.0) / 20)))
    graph = (
        f"[0:a]alimiter=limit={limit:.5f}:level=false:latency=true:attack=5:release=50,"
        "asplit=2[enc][meter];[meter]ebur128=peak=true:framelog=verbose,anullsink"
    )
    cmd = [find_ffmpeg(), "-hide_banner", "-y", "-nostats",
           "-f", "f32le", "-ar", str(MIX_RATE), "-ac", "2", "-i", "pipe:0", "-i", str(video),
           "-filter_complex", graph, "-map", "1:v:0", "-map", "[enc]", "-c:v", "copy",
           "-c:a", "aac", "-b:a", bitrate, "-movflags", "+faststart", str(out)]  # fmt: skip
    return parse_summary(feed_process(cmd, blocks))
