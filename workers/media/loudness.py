"""Loudness measured by ffmpeg's EBU R128 scanner (integrated, range, true peak)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workers.media.tool import FfmpegError, describe_failure, find_ffmpeg, run_ffmpeg


@dataclass(frozen=True)
class Loudness:
    """EBU R128 figures: integrated LUFS, loudness range LU, true peak dBTP (None if unmeasured)."""

    integrated_lufs: float
    lra: float
    true_peak_db: float | None


_I = re.compile(r"Integrated loudness:\s+I:\s+(-?[\d.]+|-inf) LUFS")
_LRA = re.compile(r"Loudness range:\s+LRA:\s+(-?[\d.]+) LU")
_PEAK = re.compile(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS")


def parse_summary(stderr: str) -> Loudness:
    """Read the summary ebur128 prints at the end of a run.

    :raises FfmpegError: when no summary is present.
    """
    # Only the last summary counts: a filter graph configured twice (older ffmpeg probes
    # its graph once before running it) prints an empty one first.
    text = " ".join(stderr.rsplit("Summary:", 1)[-1].split())
    integrated, lra, peak = _I.search(text), _LRA.search(text), _PEAK.search(text)
    if integrated is None or lra is None:
        raise FfmpegError("ebur128 printed no loudness summary")
    return Loudness(
        integrated_lufs=float(integrated[1]),
        lra=float(lra[1]),
        true_peak_db=float(peak[1]) if peak else None,
    )


def measure_file(path: str | Path, *, true_peak: bool = True) -> Loudness:
    """Measure the first audio stream of the file at `path`.

    :raises FfmpegError: when ffmpeg cannot decode it.
    """
    peak = "true" if true_peak else "none"
    proc = run_ffmpeg(
        ["-nostats", "-i", path, "-map", "0:a:0", "-af",
         f"ebur128=peak={peak}:framelog=verbose", "-f", "null", "-"]
    )  # fmt: skip
    return parse_summary(proc.stderr.decode("utf-8", "replace"))


def measure_blocks(
    blocks: Iterable[np.ndarray], *, sample_rate: int, true_peak: bool = False
) -> Loudness:
    """Measure float32 stereo sample blocks streamed into ffmpeg (no file is written).

    :raises FfmpegError: when ffmpeg fails.
    """
    peak = "true" if true_peak else "none"
    cmd = [find_ffmpeg(), "-hide_banner", "-nostats", "-f", "f32le", "-ar", str(sample_rate),
           "-ac", "2", "-i", "pipe:0", "-af", f"ebur128=peak={peak}:framelog=verbose",
           "-f", "null", "-"]  # fmt: skip
    stderr = feed_process(cmd, blocks)
    return parse_summary(stderr)


def feed_process(cmd: list[str], blocks: Iterable[np.ndarray]) -> str:
    """Run `cmd`, write `blocks` as raw float32 to its stdin, and return its stderr.

    stderr goes to a temporary file rather than a pipe: a full stderr pipe would block
    ffmpeg while we block writing its stdin.

    :raises FfmpegError: on a non-zero exit.
    """
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
        try:
            for block in blocks:
                proc.stdin.write(np.ascontiguousarray(block, dtype=np.float32).tobytes())
        except BrokenPipeError:
            pass  # ffmpeg died early; its exit code and stderr say why
        finally:
            proc.stdin.close()
            code = proc.wait()
        err.seek(0)
        stderr = err.read()
    if code != 0:
        raise FfmpegError(describe_failure(stderr))
    return stderr.decode("utf-8", "replace")
