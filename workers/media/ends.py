"""Where pieces of a picture meet: the last frame of one clip and the first of the next (what a
generated bridge morphs between), and consecutive segments of one scene joined at their
shared frame."""

from __future__ import annotations

import os
import shutil
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


def last_frame(folder: str | Path) -> Path:
    """The last PNG of a frames folder (in name order)."""
    return sorted(Path(folder).glob("*.png"))[-1]


def join_segments(folders: list[Path], dest: str | Path) -> Path:
    """`dest` holding every frame of the first folder, then of each next one without its first
    frame (a segment starts from the previous one's last frame, so it would show twice),
    numbered 00000.png on; written again on a repeat.
    """
    dest = Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    frames = [f for i, d in enumerate(folders) for f in sorted(d.glob("*.png"))[1 if i else 0 :]]
    for index, frame in enumerate(frames):
        target = dest / f"{index:05d}.png"
        try:
            os.link(frame, target)  # the same file system: no copy
        except OSError:
            shutil.copyfile(frame, target)
    return dest
