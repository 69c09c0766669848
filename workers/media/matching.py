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
        first, body = _body(scene, plan, len(src))
        check, found_at = _presence(scene, src, thumbs, plan, first, body)
        checks.append(check)
        if check.passed:
            checks.append(_frame_order(scene, src, thumbs, plan, first, body))
        if found_at is not None and found_at < previous:
            checks.append(
                QcCheck("order", False, f"scene {scene.index} shows at {found_at:.2f} s, "
                        f"before the scene planned ahead of it", scene.index, found_at)
            )  # fmt: skip
        previous = max(previous, found_at if found_at is not None else previous)
    return checks


def _body(scene: QcScene, plan: QcPlan, source_frames: int) -> tuple[int, list[int]]:
    """The scene's first episode frame, and its frames outside the transition windows."""
    first = round(scene.start_s * plan.fps)
    lo = round((scene.start_s + scene.head_s) * plan.fps)
    hi = max(lo + 1, round((scene.end_s - scene.tail_s) * plan.fps))
    return first, [e for e in range(lo, hi) if 0 <= e - first < source_frames]


def _l1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=-1)


def _presence(
    scene: QcScene, src: np.ndarray, thumbs: np.ndarray, plan: QcPlan, first: int, body: list[int]
) -> tuple[QcCheck, float | None]:
    dists = [float(_l1(thumbs[e], src[e - first])) if e < len(thumbs) else 255.0 for e in body]
    where = body[len(body) // 2] / plan.fps if body else scene.start_s
    if dists and float(np.median(dists)) <= plan.match_threshold:
        message = f"scene {scene.index} present at {where:.2f} s"
        return QcCheck("scene", True, message, scene.index, where), where
    middle = src[body[len(body) // 2] - first] if body else None
    found = _best_match(middle, thumbs, plan)
    elsewhere = f"best match at {found:.2f} s" if found is not None else "not found anywhere"
    got = f"difference {np.median(dists):.1f}" if dists else "source clip unreadable"
    message = f"scene {scene.index} missing at {where:.2f} s ({got}); {elsewhere}"
    return QcCheck("scene", False, message, scene.index, round(where, 3)), found


def _best_match(signature: np.ndarray | None, thumbs: np.ndarray, plan: QcPlan) -> float | None:
    if signature is None or not len(thumbs):
        return None
    dist = _l1(thumbs, signature)
    best = int(np.argmin(dist))
    return best / plan.fps if dist[best] <= plan.match_threshold else None


def _frame_order(
    scene: QcScene, src: np.ndarray, thumbs: np.ndarray, plan: QcPlan, first: int, body: list[int]
) -> QcCheck:
    shown = [e for e in body if e < len(thumbs)]
    rms = _rms_matrix(thumbs[shown], src)
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
