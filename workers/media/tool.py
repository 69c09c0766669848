"""The ffmpeg binary Tower uses, and one way to run it with its errors mapped."""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from shared.errors import PermanentError, TransientError

log = logging.getLogger(__name__)


class FfmpegError(PermanentError):
    """ffmpeg exited non-zero: the input or the filter graph is bad; retrying will not help."""

    code = "ffmpeg_failed"


class FfmpegTimeout(TransientError):
    """ffmpeg ran past its deadline (an overloaded node); worth retrying."""

    code = "ffmpeg_timeout"


@functools.cache
def find_ffmpeg() -> str:
    """The one place that decides which ffmpeg runs: imageio-ffmpeg's, else the system's.

    The pip-pinned build comes first on purpose: stream-copy compiling needs every node to
    write identical H.264 parameter sets, which one pinned ffmpeg/x264 build guarantees and
    distro packages (different versions per node image) do not. It is also newer (ffmpeg 7+
    runs decoders, filters and encoders on separate threads).

    :raises PermanentError: when neither is available.
    """
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        log.info("imageio-ffmpeg unavailable; falling back to ffmpeg on PATH")
    found = shutil.which("ffmpeg")
    if not found:
        raise PermanentError("neither imageio-ffmpeg nor an ffmpeg on PATH is available")
    return found


def run_ffmpeg(
    args: Sequence[str | Path],
    *,
    timeout_s: float = 3600.0,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg with `args` (no binary, no -y) and return the finished process.

    :raises FfmpegError: on a non-zero exit, with the tail of stderr.
    :raises FfmpegTimeout: when it runs past `timeout_s`.
    """
    cmd = [find_ffmpeg(), "-hide_banner", "-nostdin", "-y", *map(str, args)]
    if stdin is not None:
        cmd.remove("-nostdin")
    log.debug("ffmpeg run args=%s", cmd[1:])
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FfmpegTimeout(f"ffmpeg timed out after {timeout_s:.0f}s") from exc
    if proc.returncode != 0:
        raise FfmpegError(describe_failure(proc.stderr))
    return proc


def describe_failure(stderr: bytes) -> str:
    """The last meaningful lines of an ffmpeg stderr, for an error message."""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return "ffmpeg failed: " + " | ".join(lines[-4:])
