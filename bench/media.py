"""Benchmark of the episode compiler and audio mixer (issue 6).

Run from the repository root: `python -m bench.media`. It generates 60 scene clips of 4 s
at 768x432 (normalised as Tower's own scene output, keyframes where windows end), then:
compiles them with cuts (against ffmpeg concat + stream copy), with crossfades (against
moviepy concatenate_videoclips + write_videofile), QCs the crossfaded episode (timed apart)
and mixes a 22-minute episode with 40 cues. A second set of 60 clips is encoded as
ComfyUI's VHS_VideoCombine writes `video/h264-mp4` (libx264 defaults, B-frames, crf 19, one
keyframe per clip) and compiled with cuts against stream copy too. The last stdout line is
one JSON object; the exit status is 1 when a bar is missed.
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from comfy_emulator.vhs_formats import encode_command, load_format, resolve
from workers.media.compiler import ClipSpec, compile_episode
from workers.media.library import choose_cue
from workers.media.mixer import MusicCue, SfxCue, mix_episode
from workers.media.normalise import normalise_clip
from workers.media.qc import plan_qc, run_qc
from workers.media.synthesis import generate_demo_library
from workers.media.tool import find_ffmpeg, run_ffmpeg

log = logging.getLogger("bench.media")

CLIPS, CLIP_S, W, H, FPS = 60, 4.0, 768, 432, 24
XF = 0.5
EPISODE_S = 22 * 60
BARS = {
    "cuts_vs_stream_copy": ("<=", 1.3),
    "node_cuts_vs_stream_copy": ("<=", 1.3),
    "crossfade_speedup_vs_moviepy": (">=", 8.0),
    "mix_realtime_factor": (">=", 20.0),
}


def make_clips(work: Path) -> list[Path]:
    """Generate the scene clips: a lavfi render, then Tower's normalisation of it."""

    def one(i: int) -> Path:
        raw = work / f"raw{i:02d}.mp4"
        source = f"testsrc2=size={W}x{H}:rate={FPS},hue=h={i * 37 % 360}"
        run_ffmpeg(["-f", "lavfi", "-i", source, "-t", str(CLIP_S), "-pix_fmt", "yuv420p",
                    "-c:v", "libx264", "-preset", "ultrafast", raw])  # fmt: skip
        clip = normalise_clip(
            raw, work / f"clip{i:02d}.mp4", fps=FPS, width=W, height=H, head_s=XF, tail_s=XF
        )
        raw.unlink()
        return clip

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, range(CLIPS)))


def make_node_clips(work: Path) -> list[Path]:
    """The same sources written as VHS_VideoCombine writes h264-mp4: raw RGB frames piped
    into the pack's own ffmpeg arguments."""
    fmt = resolve(load_format("h264-mp4"), {"has_alpha": False})
    command = encode_command(find_ffmpeg(), fmt, width=W, height=H, frame_rate=float(FPS),
                             input_pix_fmt="rgb24", loop_args=[])  # fmt: skip

    def one(i: int) -> Path:
        out = work / f"node{i:02d}.mp4"
        source = f"testsrc2=size={W}x{H}:rate={FPS},hue=h={i * 37 % 360},format=rgb24"
        frames = subprocess.Popen(
            [find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", source, "-t", str(CLIP_S),
             "-f", "rawvideo", "-"], stdout=subprocess.PIPE)  # fmt: skip
        subprocess.run([*command, str(out)], stdin=frames.stdout, check=True)
        frames.stdout.close()
        if frames.wait() != 0:
            raise RuntimeError(f"lavfi source failed for clip {i}")
        return out

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, range(CLIPS)))


def compare_cuts(clips: list[Path], work: Path, tag: str) -> dict[str, float]:
    """Interleaved runs (medians: the box is shared and noisy) of stream copy and compile."""
    specs = [ClipSpec(p) for p in clips]
    base, ours = [], []
    for i in range(7):
        base.append(timed(concat_copy, clips, work / f"{tag}base{i}.mp4", work))
        out = work / f"{tag}cuts{i}.mp4"
        ours.append(timed(compile_episode, specs, out, fps=FPS, width=W, height=H))
    return {"concat_copy_s": statistics.median(base), "compile_cuts_s": statistics.median(ours)}


def concat_copy(clips: list[Path], out: Path, work: Path) -> None:
    """The baseline: ffmpeg's concat demuxer with stream copy."""
    listing = work / "baseline.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in clips))
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", out])


def moviepy_crossfade(clips: list[Path], out: Path) -> None:
    """The moviepy way: crossfade-in effects, composed concatenation, write_videofile."""
    from moviepy import VideoFileClip, concatenate_videoclips, vfx

    opened = [VideoFileClip(str(p), audio=False) for p in clips]
    try:
        faded = [opened[0]] + [c.with_effects([vfx.CrossFadeIn(XF)]) for c in opened[1:]]
        episode = concatenate_videoclips(faded, method="compose", padding=-XF)
        episode.write_videofile(
            str(out), fps=FPS, codec="libx264", preset="veryfast", audio=False,
            threads=2, logger=None,
        )  # fmt: skip
        episode.close()
    finally:
        for clip in opened:
            clip.close()


def timed(fn, *args, **kwargs) -> float:
    """Seconds `fn(*args, **kwargs)` takes."""
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def long_video(episode: Path, work: Path) -> Path:
    """A 22-minute video made by stream-copying the compiled episode end to end."""
    repeats = int(EPISODE_S // (CLIPS * CLIP_S)) + 1
    listing = work / "long.txt"
    listing.write_text(f"file '{episode}'\n" * repeats)
    out = work / "long.mp4"
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", listing, "-t", str(EPISODE_S),
                "-c", "copy", out])  # fmt: skip
    return out


def mix_cues(library) -> tuple[list[MusicCue], list[SfxCue]]:
    """20 music cues (a mood per ~66 s "scene") and 20 effects: 40 cues."""
    moods = ["calm", "tense", "action", "sad", "happy", "mystery"]
    span = EPISODE_S / 20
    music, used = [], []
    for i in range(20):
        cue = choose_cue(library, moods[i % len(moods)], avoid=used[-1:])
        used.append(cue.path)
        music.append(MusicCue(cue.path, i * span, (i + 1) * span))
    effects = ["whoosh", "hit", "chime"]
    sfx = [
        SfxCue(choose_cue(library, effects[i % 3], kind="sfx").path, i * span + 10.0, -2.0)
        for i in range(20)
    ]
    return music, sfx


def main() -> int:
    """Run the benchmark and print its JSON figures; 1 when a bar is missed."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    figures: dict[str, object] = {"clips": CLIPS, "clip_s": CLIP_S, "size": f"{W}x{H}",
                                  "fps": FPS, "transition_s": XF}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        clips = make_clips(work)
        figures["generate_clips_s"] = round(time.perf_counter() - start, 2)

        cuts = compare_cuts(clips, work, "")
        figures["concat_copy_s"] = round(cuts["concat_copy_s"], 3)
        figures["compile_cuts_s"] = round(cuts["compile_cuts_s"], 3)
        figures["cuts_vs_stream_copy"] = round(cuts["compile_cuts_s"] / cuts["concat_copy_s"], 3)

        start = time.perf_counter()
        node_clips = make_node_clips(work)
        figures["generate_node_clips_s"] = round(time.perf_counter() - start, 2)
        node = compare_cuts(node_clips, work, "node")
        figures["node_concat_copy_s"] = round(node["concat_copy_s"], 3)
        figures["node_compile_cuts_s"] = round(node["compile_cuts_s"], 3)
        figures["node_cuts_vs_stream_copy"] = round(
            node["compile_cuts_s"] / node["concat_copy_s"], 3
        )
        node_result = compile_episode(
            [ClipSpec(p) for p in node_clips], work / "node.mp4", fps=FPS, width=W, height=H
        )
        figures["node_compile_reencoded_frames"] = node_result.reencoded_frames
        start = time.perf_counter()
        node_report = run_qc(node_result.path, plan_qc(node_result, expect_audio=False))
        figures["node_qc_s"] = round(time.perf_counter() - start, 2)
        figures["node_qc_passed"] = node_report.passed
        figures["node_qc_failures"] = [c.message for c in node_report.failures]

        xf_specs = [ClipSpec(p, "crossfade", XF) for p in clips]
        result = None

        def compile_xf() -> None:
            nonlocal result
            result = compile_episode(xf_specs, work / "xf.mp4", fps=FPS, width=W, height=H)

        xf_s = timed(compile_xf)
        mp_s = timed(moviepy_crossfade, clips, work / "moviepy.mp4")
        figures["compile_crossfade_s"] = round(xf_s, 2)
        figures["compile_crossfade_reencoded_frames"] = result.reencoded_frames
        figures["compile_crossfade_frames"] = result.frame_count
        figures["moviepy_crossfade_s"] = round(mp_s, 2)
        figures["crossfade_speedup_vs_moviepy"] = round(mp_s / xf_s, 2)

        start = time.perf_counter()
        report = run_qc(result.path, plan_qc(result, expect_audio=False))
        figures["qc_s"] = round(time.perf_counter() - start, 2)
        figures["qc_passed"] = report.passed
        figures["qc_failures"] = [c.message for c in report.failures]

        library = generate_demo_library(work / "library")
        video = long_video(work / "cuts0.mp4", work)
        music, sfx = mix_cues(library)
        start = time.perf_counter()
        mixed = mix_episode(video, work / "mixed.mp4", music=music, sfx=sfx)
        mix_s = time.perf_counter() - start
        figures["mix_episode_s"] = round(mixed.duration_s, 1)
        figures["mix_cues"] = len(music) + len(sfx)
        figures["mix_s"] = round(mix_s, 2)
        figures["mix_realtime_factor"] = round(mixed.duration_s / mix_s, 1)
        figures["mix_lufs"] = mixed.integrated_lufs
        figures["mix_true_peak_db"] = mixed.true_peak_db
        figures["mix_passes"] = mixed.passes

    missed = [
        name for name, (op, bar) in BARS.items()
        if not (figures[name] <= bar if op == "<=" else figures[name] >= bar)
    ]  # fmt: skip
    figures["bars"] = {name: f"{op} {bar}" for name, (op, bar) in BARS.items()}
    figures["missed"] = missed
    print(json.dumps(figures))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
