"""A clip with non-square pixels (stored 32x64, shown 64x64: sample aspect ratio 2:1) keeps
its display shape in the episode, instead of being squeezed to half its width between
black bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workers.media.compiler import ClipSpec, compile_episode
from workers.media.tool import run_ffmpeg


def test_an_anamorphic_clip_fills_the_frame_it_is_shown_in(tmp_path: Path) -> None:
    clip = tmp_path / "anamorphic.mp4"
    # Left half blue, right half red; shown square, like the 64x64 episode.
    run_ffmpeg(["-f", "lavfi", "-i", "color=c=red:size=32x64:rate=16", "-frames:v", "4",
                "-vf", "drawbox=x=0:y=0:w=16:h=64:color=blue:t=fill,setsar=2/1",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", clip])  # fmt: skip
    result = compile_episode([ClipSpec(clip)], tmp_path / "ep.mp4", fps=16, width=64, height=64)
    raw = run_ffmpeg(["-i", result.path, "-frames:v", "1", "-f", "rawvideo",
                      "-pix_fmt", "rgb24", "-"]).stdout  # fmt: skip
    row = np.frombuffer(raw, np.uint8).reshape(64, 64, 3)[32].astype(int)
    blue, red = np.array([0, 0, 255]), np.array([255, 0, 0])
    assert np.abs(row[2] - blue).max() < 60, f"left edge is {row[2]}, not the clip's blue"
    assert np.abs(row[61] - red).max() < 60, f"right edge is {row[61]}, not the clip's red"
