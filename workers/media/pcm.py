"""Decoding audio files to float32 stereo sample arrays at the mix rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workers.media.tool import run_ffmpeg

MIX_RATE = 48000


def decode_audio(path: str | Path, *, sample_rate: int = MIX_RATE) -> np.ndarray:
    """Decode the first audio stream of `path` to a (samples, 2) float32 array.

    :raises FfmpegError: when the file has no decodable audio.
    """
    proc = run_ffmpeg(
        ["-i", path, "-map", "0:a:0", "-ac", "2", "-ar", str(sample_rate),
         "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    )  # fmt: skip
    return np.frombuffer(proc.stdout, dtype="<f4").reshape(-1, 2)
