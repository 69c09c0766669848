"""Parts of bench.pipeline: GPU time lost to checkpoint switches, with routing that prefers a
backend holding the job's checkpoint beside routing blind to it, and the farm's memory (each
process after the runs, and a GPU worker's before and after MEMORY_STAGES stages).

A real ComfyUI keeps its last checkpoint (and motion module) loaded and a switch costs seconds;
the emulators here take LOAD_S for each (`--model-load-seconds`) and count them. Jobs cycle
over three checkpoints. Their stages render for SWITCH_STAGE_S: a load is a fraction of a
stage, as on a GPU (seconds to load, tens of seconds to render), only both shorter; with
stages shorter than a load the run measured mostly the backends' cold start. Utilization
counts load time as lost: render time (ComfyUI's execution less the loads, plus the simulated
GPU time) spread over the backends / makespan. Its ceiling is what a perfect scheduler would
reach from these cold backends: every checkpoint and the motion module must be loaded at
least once (LOAD_S each), so at best render / (render + those loads), with no dispatch time,
no idle backend and no tail.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from comfy_emulator.inventory import DEFAULT_MODELS
from shared.db import db
from shared.models import WorkerNode
from shared.settings_store import CACHE_S, set_setting

CHECKPOINTS = ("v1-5-pruned-emaonly.safetensors", "anime-a.safetensors", "anime-b.safetensors")
LOAD_S = 2.0
SWITCH_JOBS = 36
SWITCH_STAGE_S = (2.0, 6.0)  # simulated render time of each GPU stage, drawn uniformly
COLD_LOADS = len(CHECKPOINTS) + 1  # each checkpoint and the one motion module, once
SWITCH_BAR = 0.5  # switches with the preference, at most this share of the blind run's
MEMORY_STAGES = 200  # GPU stages one worker runs before its memory is read again
MODELS = {**DEFAULT_MODELS, "checkpoints": [*DEFAULT_MODELS["checkpoints"], *CHECKPOINTS[1:]]}


def loads(farm) -> tuple[int, float]:
    """Model loads (and their seconds) every backend of the farm has counted so far."""
    stats = [
        requests.get(f"{e.url}/emulator/stats", timeout=10).json()["models"]
        for e in farm.emulators.values()
    ]
    return sum(s["loads"] for s in stats), sum(s["seconds"] for s in stats)


def fresh_start(farm, prefer: bool) -> None:
    """Backends with nothing loaded (restarted, their rows forgetting their checkpoints), and
    the routing preference set, given every worker time to read it."""
    for node in list(farm.emulators):
        farm.restart_backend(node)
    db.session.execute(sa.update(WorkerNode).values(last_checkpoint=None))
    set_setting(db.session, "route_by_checkpoint", prefer, None)
    db.session.commit()
    time.sleep(CACHE_S + 0.5)  # workers re-read settings at most CACHE_S old


def measure_switches(
    farm, scene_ids, rng, *, planned, dispatched_at_once, wait_jobs, gpu_runs, execution_seconds
):
    """Jobs over three checkpoints at once: switches, load seconds and utilization."""
    stages = ("keyframe", "animate", "interpolate")
    plans = [{stage: rng.uniform(*SWITCH_STAGE_S) for stage in stages} for _ in scene_ids]
    loads_before, seconds_before = loads(farm)
    job_ids = [
        planned(scene_id, plan, checkpoint=CHECKPOINTS[i % len(CHECKPOINTS)])
        for i, (scene_id, plan) in enumerate(zip(scene_ids, plans, strict=True))
    ]
    start = dispatched_at_once(job_ids)
    jobs = wait_jobs(job_ids, timeout=900)
    runs = gpu_runs(job_ids)
    end = max(r.finished_at.timestamp() for r in runs)
    loads_after, seconds_after = loads(farm)
    switches, load_s = loads_after - loads_before, seconds_after - seconds_before
    executed = sum(execution_seconds(farm, r) for r in runs)
    render = sum(sum(p.values()) for p in plans) + executed - load_s
    return {
        "jobs": len(job_ids),
        "failed_jobs": sum(j.status != "succeeded" for j in jobs),
        "switches": switches,
        "load_s": round(load_s, 1),
        "gpu_utilization": round(render / len(farm.emulators) / (end - start), 3),
        "gpu_utilization_ceiling": round(render / (render + LOAD_S * COLD_LOADS), 3),
    }


def process_tree_rss_mb(pid: int) -> float:
    """Resident memory (MB) of a process and every process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent and p not in tree]
        tree.update(children)
        frontier.extend(children)
    return round(sum(rss_kb(p) for p in tree) / 1024, 1)


def rss_kb(pid: int) -> int:
    """VmRSS of one process in kB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def farm_rss_mb(farm) -> dict[str, float]:
    """RSS (MB, with pool children) of each farm process: GPU and CPU workers, emulators."""
    figures = {
        f"gpu_worker_{n}": process_tree_rss_mb(p.popen.pid) for n, p in farm.gpu_workers.items()
    }
    if farm.cpu_worker is not None:
        figures["cpu_worker"] = process_tree_rss_mb(farm.cpu_worker.popen.pid)
    figures |= {
        f"emulator_{n}": process_tree_rss_mb(e.popen.pid) for n, e in farm.emulators.items()
    }
    figures["bench"] = round(rss_kb(os.getpid()) / 1024, 1)
    return figures


def gpu_worker_rss_growth(farm, scene_ids, *, submit, wait_jobs, gpu_runs) -> dict:
    """RSS (MB, with pool children) of a one-node farm's GPU worker after one job, and after
    jobs of three GPU stages each until it ran MEMORY_STAGES more."""
    (node,) = farm.gpu_workers
    pid = farm.gpu_workers[node].popen.pid
    first, rest = scene_ids[0], scene_ids[1:]
    wait_jobs([submit(first)], timeout=120)
    before = process_tree_rss_mb(pid)
    job_ids = [submit(scene_id) for scene_id in rest]
    jobs = wait_jobs(job_ids, timeout=900)
    after = process_tree_rss_mb(pid)
    return {
        "stages": len(gpu_runs(job_ids)),
        "failed_jobs": sum(j.status != "succeeded" for j in jobs),
        "rss_mb_after_first_job": before,
        "rss_mb_after_stages": after,
        "rss_growth_mb": round(after - before, 1),
    }
