"""The demo library Tower generates itself: synthesised music loops per mood and a few effects."""

from __future__ import annotations

import logging
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workers.media.library import LibraryEntry, make_entry, save_library

log = logging.getLogger(__name__)

RATE = 48000

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
LOCRIAN = (0, 1, 3, 5, 6, 8, 10)
HARMONIC = (0, 2, 3, 6, 7, 8, 11)


@dataclass(frozen=True)
class Mood:
    """How a mood's loop is written: its tags, tempo, key, chord degrees, and drums or not."""

    tags: tuple[str, ...]
    bpm: int
    root: int
    scale: tuple[int, ...]
    degrees: tuple[int, ...]
    bright: bool


MOODS = {
    "calm": Mood(("calm", "peaceful", "neutral"), 72, 57, MAJOR, (0, 5, 3, 4), False),
    "tense": Mood(("tense", "suspense", "dark"), 96, 50, LOCRIAN, (0, 1, 0, 5), False),
    "happy": Mood(("happy", "cheerful", "bright"), 120, 60, MAJOR, (0, 4, 5, 3), True),
    "sad": Mood(("sad", "melancholy"), 64, 57, MINOR, (0, 5, 2, 6), False),
    "action": Mood(("action", "fight", "energetic"), 150, 52, MINOR, (0, 5, 6, 4), True),
    "mystery": Mood(("mystery", "mysterious", "night"), 80, 55, HARMONIC, (0, 3, 1, 4), False),
}


def _tone(freq: float, seconds: float, *, partials: int = 4, decay: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave_ = sum(np.sin(2 * np.pi * freq * k * t) / k**1.5 for k in range(1, partials + 1))
    attack = np.minimum(1.0, t / 0.02)
    release = np.minimum(1.0, (seconds - t) / 0.05)
    return wave_ * attack * release * np.exp(-decay * t / seconds)


def _midi(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def synthesise_loop(mood: str, *, bars: int = 4, seed: int = 0) -> np.ndarray:
    """A seamless stereo music loop for `mood`: bass, pad chords and an arpeggio (and drums)."""
    spec = MOODS[mood]
    bpm, root, scale, degrees, bright = (spec.bpm, spec.root, spec.scale, spec.degrees, spec.bright)
    beat = 60.0 / bpm
    total = int(bars * 4 * beat * RATE)
    left, right = np.zeros(total), np.zeros(total)
    rng = np.random.default_rng(seed)

    def place(signal: np.ndarray, at: float, pan: float) -> None:
        start = int(at * RATE) % total
        end = min(total, start + len(signal))
        left[start:end] += signal[: end - start] * (1 - pan)
        right[start:end] += signal[: end - start] * pan

    for bar in range(bars):
        degree = degrees[bar % len(degrees)]
        chord = [root + scale[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]
        at = bar * 4 * beat
        place(0.25 * _tone(_midi(chord[0] - 12), 4 * beat * 0.98, partials=3), at, 0.5)
        for note in chord:
            place(0.08 * _tone(_midi(note), 4 * beat * 0.98, partials=5, decay=1.0), at, 0.3)
        steps = 8 if bright else 4
        for step in range(steps):
            note = chord[rng.integers(0, 3)] + 12
            length = 4 * beat / steps
            place(0.1 * _tone(_midi(note), length * 0.9, decay=4.0), at + step * length, 0.7)
        if bright:
            for step in range(4):
                hit = rng.standard_normal(int(0.08 * RATE)) * np.exp(
                    -np.arange(int(0.08 * RATE)) / 600
                )
                place(0.15 * hit, at + step * beat, 0.5)
    stereo = np.stack([left, right], axis=1)
    return (0.5 * stereo / np.max(np.abs(stereo))).astype(np.float32)


def synthesise_whoosh() -> np.ndarray:
    """A rising then falling filtered-noise sweep (0.8 s)."""
    n = int(0.8 * RATE)
    noise = np.random.default_rng(1).standard_normal(n)
    # A moving one-pole low-pass, written as a cumulative blend so it stays vectorised
    # enough for a 0.8 s sound.
    cutoff = 0.02 + 0.3 * np.sin(np.linspace(0, np.pi, n)) ** 2
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc += cutoff[i] * (noise[i] - acc)
        out[i] = acc
    env = np.sin(np.linspace(0, np.pi, n)) ** 2
    mono = out * env
    pan = np.linspace(0.2, 0.8, n)
    return _stereo(mono, pan)


def synthesise_hit() -> np.ndarray:
    """A low thump with a noise crack (0.5 s)."""
    n = int(0.5 * RATE)
    t = np.arange(n) / RATE
    thump = np.sin(2 * np.pi * (90 - 50 * t) * t) * np.exp(-t * 12)
    crack = np.random.default_rng(2).standard_normal(n) * np.exp(-t * 60) * 0.5
    return _stereo(thump + crack, np.full(n, 0.5))


def synthesise_chime() -> np.ndarray:
    """A bell-like chime with inharmonic partials (1.5 s)."""
    n = int(1.5 * RATE)
    t = np.arange(n) / RATE
    mono = sum(
        amp * np.sin(2 * np.pi * 880 * ratio * t) * np.exp(-t * (2 + ratio))
        for ratio, amp in ((1.0, 1.0), (2.76, 0.5), (5.4, 0.25), (8.93, 0.12))
    )
    return _stereo(mono, np.full(n, 0.5))


def _stereo(mono: np.ndarray, pan: np.ndarray) -> np.ndarray:
    stereo = np.stack([mono * (1 - pan), mono * pan], axis=1)
    return (0.7 * stereo / np.max(np.abs(stereo))).astype(np.float32)


def write_wav(path: str | Path, samples: np.ndarray) -> Path:
    """Write float stereo samples in [-1, 1] as a 16-bit 48 kHz WAV."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return Path(path)


SFX: dict[str, tuple[Callable[[], np.ndarray], tuple[str, ...]]] = {
    "whoosh": (synthesise_whoosh, ("whoosh", "transition", "motion")),
    "hit": (synthesise_hit, ("hit", "impact", "fight")),
    "chime": (synthesise_chime, ("chime", "magic", "bright")),
}


def generate_demo_library(folder: str | Path) -> list[LibraryEntry]:
    """Synthesise the demo library (music loops per mood, a few effects) into `folder`.

    Writes the WAV files and the library index; returns the entries.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for mood, spec in MOODS.items():
        samples = synthesise_loop(mood)
        path = write_wav(folder / f"music-{mood}.wav", samples)
        entries.append(
            make_entry(path, kind="music", name=f"{mood} loop", tags=spec.tags,
                       duration_s=len(samples) / RATE)
        )  # fmt: skip
    for name, (make, tags) in SFX.items():
        samples = make()
        path = write_wav(folder / f"sfx-{name}.wav", samples)
        entries.append(
            make_entry(path, kind="sfx", name=name, tags=tags, duration_s=len(samples) / RATE)
        )
    save_library(entries, folder)
    log.info("generated demo library folder=%s entries=%d", folder, len(entries))
    return entries
