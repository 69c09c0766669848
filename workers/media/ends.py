"""The frames where two clips meet: the last of one and the first of the next (what a generated
bridge morphs between)."""

from __future__ import annotations

from pathlib import Path

from workers.media.tool import run_ffmpeg

# How far before its end a clip is decoded to find its last frame (a whole GOP at most).
TAIL_S = 1.0


def clip_ends(first: str | Path, second: str | Path, folder: str | Path) -> Path:
    """`folder` holding 00000.png (the last frame of `first`) and 00001.png (the first frame of
    `second`), written again on a repeat.

    :raises FfmpegError: when either clip cannot be decoded.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # -update keeps overwriting one image, so the last decoded frame is what remains.
    run_ffmpeg(["-sseof", f"-{TAIL_S}", "-i", first, "-update", "1", folder / "00000.png"])
    run_ffmpeg(["-i", second, "-frames:v", "1", folder / "00001.png"])
    return folder
