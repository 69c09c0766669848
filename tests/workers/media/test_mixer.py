"""mix_episode and the music library on real audio: loudness, ducking, crossfades, mux."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared.errors import NotFoundError, ValidationError
from tests.workers.media.conftest import FPS, SOURCES, H, W, make_episode_clip
from workers.media.compiler import ClipSpec, compile_episode
from workers.media.cues import SceneSfx, plan_music, plan_sfx
from workers.media.library import choose_cue, load_library, make_entry
from workers.media.loudness import measure_file
from workers.media.mixer import DialogueCue, MusicCue, SfxCue, mix_episode
from workers.media.pcm import MIX_RATE, decode_audio
from workers.media.synthesis import RATE, write_wav
from workers.media.tool import run_ffmpeg

EPISODE_S = 6.0


@pytest.fixture(scope="module")
def video(media_dir: Path) -> Path:
    """A 6 s silent episode video, as the node writes one."""
    return make_episode_clip(media_dir / "mix-video.mp4", SOURCES["a"], seconds=EPISODE_S)


def tone(path: Path, freq: float, seconds: float, amp: float = 0.3) -> Path:
    """A steady sine WAV (a music bed whose level is easy to read)."""
    t = np.arange(int(seconds * RATE)) / RATE
    mono = amp * np.sin(2 * np.pi * freq * t)
    return write_wav(path, np.stack([mono, mono], axis=1))


def packets(path: Path) -> list[str]:
    """Per-packet hashes of the video stream, without decoding."""
    proc = run_ffmpeg(["-i", path, "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"])
    return [ln.rsplit(",", 1)[-1].strip() for ln in proc.stdout.decode().splitlines()
            if not ln.startswith("#")]  # fmt: skip


def level_db(samples: np.ndarray, freq: float) -> float:
    """Level of one frequency in a stretch of samples (Hann-windowed DFT), in dB."""
    mono = samples.mean(axis=1) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(mono))
    k = int(round(freq * len(samples) / MIX_RATE))
    return 20 * np.log10(spectrum[k - 2 : k + 3].max() + 1e-12)


def test_library_mix_hits_target_loudness_and_copies_video(
    video: Path, library, media_dir: Path
) -> None:
    lib = load_library(media_dir / "library")
    assert {e.name for e in lib} == {e.name for e in library}
    tense, happy = choose_cue(lib, "tense"), choose_cue(lib, "happy, bright")
    hit = choose_cue(lib, "impact", kind="sfx")
    for target in (-16.0, -23.0):
        result = mix_episode(
            video, media_dir / f"mixed{target}.mp4",
            music=[MusicCue(tense.path, 0, 3), MusicCue(happy.path, 3, EPISODE_S)],
            sfx=[SfxCue(hit.path, 1.0), SfxCue(hit.path, 4.5, gain_db=-3)],
            target_lufs=target,
        )  # fmt: skip
        measured = measure_file(result.path)
        assert abs(measured.integrated_lufs - target) <= 1.0
        assert result.integrated_lufs == pytest.approx(measured.integrated_lufs, abs=0.05)
        assert measured.true_peak_db is not None and measured.true_peak_db <= -1.0 + 0.3
        assert result.duration_s == pytest.approx(EPISODE_S, abs=0.01)
    assert packets(result.path) == packets(video)


def test_music_ducks_under_effects_and_dialogue(video: Path, media_dir: Path) -> None:
    bed = tone(media_dir / "bed.wav", 440, 2.0)
    silence = write_wav(media_dir / "silence.wav", np.zeros((RATE, 2)))
    result = mix_episode(
        video, media_dir / "ducked.mp4", music=[MusicCue(bed, 0, EPISODE_S)],
        sfx=[SfxCue(silence, 2.0)], dialogue=[DialogueCue(silence, 4.0)], duck_db=12,
    )  # fmt: skip
    audio = decode_audio(result.path)

    def level(at: float) -> float:  # equal 0.6 s windows, so levels compare directly
        return level_db(audio[int(at * MIX_RATE) : int((at + 0.6) * MIX_RATE)], 440)

    free, under_sfx, under_dialogue = level(0.5), level(2.2), level(4.2)
    assert free - under_sfx == pytest.approx(12, abs=1.5)
    assert free - under_dialogue == pytest.approx(12, abs=1.5)


def test_music_cues_crossfade_at_their_boundary(video: Path, media_dir: Path) -> None:
    low, high = tone(media_dir / "low.wav", 330, 1.0), tone(media_dir / "high.wav", 880, 1.0)
    result = mix_episode(
        video, media_dir / "xfade.mp4",
        music=[MusicCue(low, 0, 3), MusicCue(high, 3, EPISODE_S)], crossfade_s=1.0,
    )  # fmt: skip
    audio = decode_audio(result.path)

    def levels(at: float) -> tuple[float, float]:
        part = audio[int((at - 0.1) * MIX_RATE) : int((at + 0.1) * MIX_RATE)]
        return level_db(part, 330), level_db(part, 880)

    before, middle, after = levels(2.0), levels(3.0), levels(4.0)
    assert before[0] - before[1] > 30 and after[1] - after[0] > 30
    # Equal-power crossfade: both cues about 3 dB down at the boundary.
    assert before[0] - middle[0] == pytest.approx(3, abs=1.5)
    assert after[1] - middle[1] == pytest.approx(3, abs=1.5)


def test_music_with_loop_points_repeats_only_the_loop(video: Path, media_dir: Path) -> None:
    """An intro (330 Hz, 1 s) then a loop (880 Hz, 1 s): after the intro only the loop plays."""
    t = np.arange(RATE) / RATE
    intro, body = 0.3 * np.sin(2 * np.pi * 330 * t), 0.3 * np.sin(2 * np.pi * 880 * t)
    mono = np.concatenate([intro, body])
    path = write_wav(media_dir / "intro-loop.wav", np.stack([mono, mono], axis=1))

    def levels(cue: MusicCue, at: float) -> tuple[float, float]:
        out = mix_episode(video, media_dir / "looped.mp4", music=[cue])
        part = decode_audio(out.path)[int(at * MIX_RATE) : int((at + 0.4) * MIX_RATE)]
        return level_db(part, 330), level_db(part, 880)

    looped = levels(MusicCue(path, 0, EPISODE_S, loop_start_s=1.0, loop_end_s=2.0), 4.3)
    assert looped[1] - looped[0] > 30
    whole = levels(MusicCue(path, 0, EPISODE_S), 4.3)  # the whole file repeats: the intro again
    assert whole[0] - whole[1] > 30


def test_cue_outside_episode_is_rejected(video: Path, media_dir: Path, tmp_path: Path) -> None:
    bed = tone(tmp_path / "bed.wav", 440, 1.0)
    with pytest.raises(ValidationError):
        mix_episode(video, tmp_path / "x.mp4", music=[MusicCue(bed, 7.0, 9.0)])
    with pytest.raises(ValidationError):
        mix_episode(video, tmp_path / "x.mp4", music=[], sfx=[SfxCue(bed, -1.0)])
    assert not (tmp_path / "x.mp4").exists()


def test_choose_cue_by_mood(library) -> None:
    assert choose_cue(library, "tense").name == "tense loop"
    assert choose_cue(library, ["fight"]).name == "action loop"
    assert choose_cue(library, "fight", kind="sfx").name == "hit"
    # A word the library does not know is refused, naming the known ones.
    with pytest.raises(ValidationError, match="unknown mood bureaucratic; known: action"):
        choose_cue(library, "bureaucratic")
    with pytest.raises(ValidationError, match="unknown sound effect thunder"):
        choose_cue(library, "thunder", kind="sfx")
    assert choose_cue(library, "whoosh", kind="sfx").name == "whoosh"
    calm = choose_cue(library, "calm")
    # An equally good second loop is preferred over the one just used; a worse one is not.
    other = make_entry("/x/rain.wav", kind="music", name="rain", tags=["calm"], duration_s=5)
    assert choose_cue([*library, other], "calm", avoid=[calm.path]).name == "rain"
    assert choose_cue(library, "calm", avoid=[calm.path]).name == "calm loop"
    with pytest.raises(NotFoundError):
        choose_cue([e for e in library if e.kind == "sfx"], "calm")


def test_demo_library_files_match_their_entries(library) -> None:
    assert {e.kind for e in library} == {"music", "sfx"}
    assert len([e for e in library if e.kind == "music"]) >= 5
    for entry in library:
        audio = decode_audio(entry.path)
        assert len(audio) / MIX_RATE == pytest.approx(entry.duration_s, abs=0.01)
        assert 0.1 < np.abs(audio).max() <= 1.0


def test_cues_planned_from_scene_moods_and_effects(clips, library, tmp_path: Path) -> None:
    specs = [ClipSpec(clips["a"], "crossfade", 0.5), ClipSpec(clips["b"], "crossfade", 0.5),
             ClipSpec(clips["c"])]  # fmt: skip
    result = compile_episode(specs, tmp_path / "ep.mp4", fps=FPS, width=W, height=H)
    music = plan_music(result, ["tense", "tense, dark", "happy"], library)
    # Scenes 0 and 1 share the tense loop; the change to happy sits mid-transition (2.25 s).
    assert [(Path(c.path).name, c.start_s, c.end_s) for c in music] == [
        ("music-tense.wav", 0.0, 2.25),
        ("music-happy.wav", 2.25, result.duration_s),
    ]
    sfx = plan_sfx(result, [SceneSfx(1, 0.25, "impact"), SceneSfx(2, 1.0, "chime")], library)
    assert [(Path(c.path).name, c.at_s) for c in sfx] == [
        ("sfx-hit.wav", 1.25),
        ("sfx-chime.wav", 3.0),
    ]
    with pytest.raises(ValidationError):
        plan_sfx(result, [SceneSfx(0, 2.0, "hit")], library)
    with pytest.raises(ValidationError) as refused:
        plan_music(result, ["tense", "stormy", "happy"], library)
    assert "known: action" in refused.value.fields["scenes[1].mood"]
    with pytest.raises(ValidationError) as refused:
        plan_sfx(result, [SceneSfx(1, 0.25, "thunder")], library)
    assert "chime" in refused.value.fields["sfx[0].name"]
    mixed = mix_episode(result.path, tmp_path / "mixed.mp4", music=music, sfx=sfx)
    assert abs(mixed.integrated_lufs + 16.0) <= 1.0
