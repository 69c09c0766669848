"""Matching an episode's frames with its scenes' source frames (16x16 thumbnails).

Two checks per scene, outside its transition windows: the scene is there (its frames
resemble the source frames due at those times), and its frames are in order, none missing
(each frame resembles the source frame at its own index more than any other). Held frames
(animation on twos) resemble their neighbours as much as themselves and pass.
"""

from __future__ import annotations

import numpy as np

from workers.media.report import QcCheck, QcPlan, QcScene

# A frame is out of place when it sits this far (RMS levels) from the source frame due
# there, above compression noise, and another source frame is at most half as far.
MISPLACED_FLOOR = 2.0
MISPLACED_RATIO = 0.5


def check_scenes(
    thumbs: np.ndarray, scenes: list[QcScene], sources: list[np.ndarray], plan: QcPlan
) -> list[QcCheck]:
    """Presence, frame order and scene order of every scene; `sources[i]` holds scene i's
    source thumbnails at the episode's rate and geometry."""
    checks, previous = [], -1.0
    for scene, src in zip(scenes, sources, strict=True):
        first, shown = _body(scene, plan, len(src), len(thumbs))
        rms = _rms_matrix(thumbs[shown], src) if shown and len(src) else None
        check, found_at = _presence(scene, src, thumbs, plan, shown, rms)
        checks.append(check)
        if check.passed:
            checks.append(_frame_order(scene, plan, first, shown, rms))
        if found_at is not None and found_at < previous:
            checks.append(
                QcCheck("order", False, f"scene {scene.index} shows at {found_at:.2f} s, "
                        f"before the scene planned ahead of it", scene.index, found_at)
            )  # fmt: skip
        previous = max(previous, found_at if found_at is not None else previous)
    return checks


def _body(
    scene: QcScene, plan: QcPlan, source_frames: int, episode_frames: int
) -> tuple[int, list[int]]:
    """The scene's first episode frame, and its frames outside the transition windows
    (those the episode has)."""
    first = round(scene.start_s * plan.fps)
    lo = round((scene.start_s + scene.head_s) * plan.fps)
    hi = max(lo + 1, round((scene.end_s - scene.tail_s) * plan.fps))
    end = min(hi, episode_frames, first + source_frames)
    return first, list(range(max(lo, first, 0), end))


def _l1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=-1)


def _presence(
    scene: QcScene,
    src: np.ndarray,
    thumbs: np.ndarray,
    plan: QcPlan,
    shown: list[int],
    rms: np.ndarray | None,
) -> tuple[QcCheck, float | None]:
    """The scene is there when its frames resemble frames of its source (wherever in it:
    order is the next check's business)."""
    where = shown[len(shown) // 2] / plan.fps if shown else scene.start_s
    if rms is not None:
        nearest = src[rms.argmin(axis=1)]
        difference = float(np.median(_l1(thumbs[shown], nearest)))
        if difference <= plan.match_threshold:
            message = f"scene {scene.index} present at {where:.2f} s"
            return QcCheck("scene", True, message, scene.index, where), where
        got = f"difference {difference:.1f}"
    else:
        got = "past the end of the episode" if len(src) else "source clip unreadable"
    middle = src[len(src) // 2] if len(src) else None
    found = _best_match(middle, thumbs, plan)
    elsewhere = f"best match at {found:.2f} s" if found is not None else "not found anywhere"
    message = f"scene {scene.index} missing at {where:.2f} s ({got}); {elsewhere}"
    return QcCheck("scene", False, message, scene.index, round(where, 3)), found


def _best_match(signature: np.ndarray | None, thumbs: np.ndarray, plan: QcPlan) -> float | None:
    if signature is None or not len(thumbs):
        return None
    dist = _l1(thumbs, signature)
    best = int(np.argmin(dist))
    return best / plan.fps if dist[best] <= plan.match_threshold else None


def _frame_order(
    scene: QcScene, plan: QcPlan, first: int, shown: list[int], rms: np.ndarray
) -> QcCheck:
    due = np.array([e - first for e in shown])
    expected = rms[np.arange(len(shown)), due]
    best = rms.argmin(axis=1)
    wrong = (expected > MISPLACED_FLOOR) & (rms.min(axis=1) < MISPLACED_RATIO * expected)
    if not wrong.any():
        message = f"scene {scene.index}: {len(shown)} frames in order"
        return QcCheck("frames", True, message, scene.index)
    k = int(np.argmax(wrong))
    at = shown[k] / plan.fps
    return QcCheck(
        "frames",
        False,
        f"scene {scene.index}: {int(wrong.sum())} of {len(shown)} frames out of order or "
        f"missing, first at {at:.2f} s (shows source frame {best[k]}, due {due[k]})",
        scene.index,
        round(at, 3),
    )


def _rms_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS distance (levels) between every row of `a` and every row of `b`."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(squared, 0) / a.shape[1])
