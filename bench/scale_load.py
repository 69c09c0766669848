"""The load of bench.scale: accounts and scenes to render, API clients that submit jobs and
read their status as several studios would, the sink's lag, and the check that every job
ended right (succeeded, every output stored with its recorded size and hash)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests
import sqlalchemy as sa

from bench.rows import make_episode
from bench.sampling import EverySecond
from shared.db import db
from shared.models import Asset, Job, StageRun
from shared.progress import ACTIVE_KEY, SINK_GROUP, events_key
from web.credentials import issue_access_token
from workers.storage import sha256_of

TINY = {"steps": 1, "frames": 2}  # 32x32 at 8 fps: 0.5 s scenes of 4 frames
TERMINAL = ("succeeded", "failed", "cancelled")
STATUS_READ_PAUSE_S = 1.0  # a connection's pause between status reads: a polling dashboard


@dataclass
class Account:
    """A client's account, token and the scenes it renders."""

    token: str
    project_id: int
    scene_ids: list[int]


def make_account(secret: str, index: int, scenes: int) -> Account:
    """A user with a project, a 32x32 episode of `scenes` half-second scenes, and a token."""
    made = make_episode(f"scale-{index}", scenes, 32)
    token = issue_access_token(secret, made.owner_id, made.role, 3600)[0]
    return Account(token, made.project_id, made.scene_ids)


@dataclass
class ClientRun:
    """What the clients saw: job ids, submit and status-read latencies, refusals."""

    job_ids: list[int] = field(default_factory=list)
    submit_s: list[float] = field(default_factory=list)
    status_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    status_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def submit(session: requests.Session, url: str, body: dict, run: ClientRun) -> int | None:
    """POST one job; retries a 503 or 429 after its Retry-After; None when refused."""
    for _ in range(20):
        started = time.perf_counter()
        try:
            response = session.post(url, json=body, timeout=60)
        except (requests.ConnectionError, requests.Timeout) as exc:
            with run.lock:
                run.errors.append(f"connection: {str(exc)[:200]}")
            return None
        elapsed = time.perf_counter() - started
        if response.status_code == 202:
            with run.lock:
                run.submit_s.append(elapsed)
            return response.json()["request_id"]
        if response.status_code not in (429, 503):
            break
        time.sleep(float(response.headers.get("Retry-After", "1")))
    with run.lock:
        run.errors.append(f"{response.status_code} {response.text[:200]}")
    return None


def client(base: str, account: Account, bodies: list[tuple[str, dict]], run: ClientRun) -> None:
    """Submit every (path, body) at once, then read the jobs' status until all ended."""
    mine = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {account.token}"
        for path, body in bodies:
            job_id = submit(session, f"{base}{path}", body, run)
            if job_id is not None:
                mine.append(job_id)
        with run.lock:
            run.job_ids += mine
        while mine:
            job_id = mine.pop(0)
            started = time.perf_counter()
            try:
                response = session.get(f"{base}/api/anime/generation/{job_id}/status", timeout=60)
            except requests.ConnectionError as exc:
                # A keep-alive connection the server closed as it was reused: read again.
                with run.lock:
                    run.status_errors.append(str(exc)[:200])
                mine.append(job_id)
                continue
            elapsed = time.perf_counter() - started
            with run.lock:
                run.status_s.append(elapsed)
            if response.status_code != 200 or response.json()["status"] not in TERMINAL:
                mine.append(job_id)
            time.sleep(STATUS_READ_PAUSE_S)


def run_clients(
    base: str, work: list[tuple[Account, list[tuple[str, dict]]]], connections: int
) -> ClientRun:
    """`connections` threads per account (a client submitting its batch in parallel), each
    with its share of the account's jobs, all started together; returns when every job
    ended."""
    run = ClientRun()
    threads = [
        threading.Thread(target=client, args=(base, account, bodies[i::connections], run))
        for account, bodies in work
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run


def scene_job_bodies(account: Account, kind: str, count: int) -> list[tuple[str, dict]]:
    """`count` jobs of `kind` over the account's scenes: "image" (keyframe only) or "scene"
    (every stage, compile and mix included)."""
    scenes = account.scene_ids
    return [
        (
            f"/api/anime/scenes/{scenes[i % len(scenes)]}/generate",
            {"kind": kind, "options": TINY},
        )
        for i in range(count)
    ]


def episode_body(account: Account, episode_id: int) -> list[tuple[str, dict]]:
    """One episode job over every scene of the episode."""
    return [
        (
            f"/api/anime/projects/{account.project_id}/generate",
            {"kind": "episode", "episode_id": episode_id, "options": TINY},
        )
    ]


def split(count: int, parts: int) -> list[int]:
    """`count` spread over `parts` as evenly as possible."""
    return [count // parts + (1 if i < count % parts else 0) for i in range(parts)]


def wrong_jobs(job_ids: list[int], artifact_root: Path) -> list[str]:
    """Why each job that did not end right did not: not succeeded, a stage not succeeded in
    its last attempt, no final output, or an output whose file is missing or differs from
    its row (size, sha256)."""
    db.session.expire_all()
    problems = []
    jobs = db.session.execute(
        sa.select(Job.id, Job.kind, Job.status).where(Job.id.in_(job_ids))
    ).all()
    problems += [f"job {j.id}: {j.status}" for j in jobs if j.status != "succeeded"]
    problems += [f"job {i}: missing" for i in set(job_ids) - {j.id for j in jobs}]
    latest = (
        sa.select(
            StageRun.job_id,
            StageRun.stage,
            StageRun.scene_id,
            StageRun.segment,
            StageRun.status,
            sa.func.rank()
            .over(
                partition_by=(
                    StageRun.job_id,
                    StageRun.stage,
                    StageRun.scene_id,
                    StageRun.segment,
                ),
                order_by=StageRun.attempt.desc(),
            )
            .label("rank"),
        )
        .where(StageRun.job_id.in_(job_ids))
        .subquery()
    )
    unfinished = db.session.execute(
        sa.select(latest.c.job_id, latest.c.stage).where(
            latest.c.rank == 1, latest.c.status != "succeeded"
        )
    ).all()
    problems += [f"job {r.job_id}: stage {r.stage} not succeeded" for r in unfinished]
    final = {"image": "keyframe", "scene": "mix", "episode": "mix"}
    outputs = db.session.execute(
        sa.select(Asset.job_id, Asset.uri, Asset.size_bytes, Asset.sha256, StageRun.stage)
        .join(StageRun, Asset.stage_run_id == StageRun.id)
        .where(Asset.job_id.in_(job_ids))
    ).all()
    for job in jobs:
        if not any(o.job_id == job.id and o.stage == final[job.kind] for o in outputs):
            problems.append(f"job {job.id}: no {final[job.kind]} output")
    for output in outputs:
        path = artifact_root / output.uri
        if path.is_dir():  # a frame sequence: its files are checked by the stage that wrote them
            continue
        if not path.is_file() or path.stat().st_size != output.size_bytes:
            problems.append(f"job {output.job_id}: {output.uri} missing or of another size")
        elif output.sha256 and sha256_of(path) != output.sha256:
            problems.append(f"job {output.job_id}: {output.uri} differs from its hash")
    return problems


def job_span_s(job_ids: list[int], since: float) -> float:
    """Seconds from `since` (the first submission) to the last job's end."""
    last = db.session.scalar(sa.select(sa.func.max(Job.finished_at)).where(Job.id.in_(job_ids)))
    return last.timestamp() - since


class SinkLag(EverySecond):
    """Samples, once a second, how old the oldest progress event is that the sink has not
    acknowledged yet (0 when it is caught up), over every active job's stream."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__()
        self._client = client
        self.samples: list[float] = []

    def sample(self) -> None:
        self.samples.append(self.oldest_unacked_s())

    def oldest_unacked_s(self) -> float:
        """Age in seconds of the oldest event not yet acknowledged by the sink."""
        keys = [events_key(int(m)) for m in self._client.smembers(ACTIVE_KEY)]
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.xinfo_groups(key)
            pipe.xpending(key, SINK_GROUP)
        try:
            answers = pipe.execute(raise_on_error=False)
        except redis.RedisError:
            return 0.0
        oldest = []
        behind = []
        for key, groups, pending in zip(keys, answers[::2], answers[1::2], strict=True):
            if isinstance(groups, Exception) or isinstance(pending, Exception):
                continue
            group = next((g for g in groups if _text(g["name"]) == SINK_GROUP), None)
            if group is None:
                continue
            if pending["pending"]:
                oldest.append(_ms(pending["min"]))
            if group.get("lag"):
                behind.append((key, _text(group["last-delivered-id"])))
        pipe = self._client.pipeline(transaction=False)
        for key, last in behind:
            pipe.xrange(key, min=f"({last}", max="+", count=1)
        for entries in pipe.execute(raise_on_error=False):
            if entries and not isinstance(entries, Exception):
                oldest.append(_ms(entries[0][0]))
        return max(0.0, time.time() - min(oldest) / 1000) if oldest else 0.0


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ms(entry_id) -> int:
    return int(_text(entry_id).split("-")[0])
