"""What the episode stages stored beside their files, as clients see it: the compile's scene
placements and QC report (on its video asset) and the mix's loudness (on the episode asset)."""

from __future__ import annotations

from typing import Any

from shared.models import Asset, Job

PLACEMENT_FIELDS = ("kind", "index", "start_s", "end_s", "head_s", "tail_s", "frames")
CHECK_FIELDS = ("name", "passed", "message", "scene_index", "at_s")
LOUDNESS_FIELDS = ("integrated_lufs", "true_peak_db", "lra", "gain_db")


def episode_metadata(asset: Asset) -> dict[str, Any]:
    """An asset's placements, QC report and loudness, where it has them (worker paths left
    out)."""
    meta = asset.meta or {}
    found: dict[str, Any] = {}
    if isinstance(meta.get("compile"), dict):
        found["placements"] = [
            {name: p.get(name) for name in PLACEMENT_FIELDS}
            for p in meta["compile"].get("placements", ())
        ]
    if isinstance(meta.get("qc"), dict):
        found["qc"] = {
            "passed": bool(meta["qc"].get("passed")),
            "checks": [
                {name: c.get(name) for name in CHECK_FIELDS} for c in meta["qc"].get("checks", ())
            ],
        }
    if "integrated_lufs" in meta:
        found["loudness"] = {name: meta.get(name) for name in LOUDNESS_FIELDS}
    return found


def latest_qc(job: Job) -> dict[str, Any] | None:
    """The QC report of a job's latest succeeded compile, or None."""
    runs = sorted(
        (r for r in job.stage_runs if r.status == "succeeded" and r.scene_id is None),
        key=lambda r: (r.finished_at is not None, r.finished_at, r.attempt),
        reverse=True,
    )
    for run in runs:
        for asset in run.assets:
            qc = episode_metadata(asset).get("qc")
            if qc is not None:
                return qc
    return None
