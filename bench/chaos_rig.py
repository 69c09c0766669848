"""The farm bench.chaos breaks, and what a trial needs of it: private Postgres and Redis, an
artifact disk of its own (a small tmpfs), two GPU backends with a worker each, a CPU worker,
beat, the progress sink and the web app; and, for the partition scenario, a GPU node on a second
host (a network namespace)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from bench import chaos_netns
from bench.private_services import PrivateServices
from bench.rows import make_episode
from shared.app import create_base_app
from shared.config import Settings, load_settings, redis_db_url
from shared.db import db
from shared.models import Asset, Job, StageRun
from tasks.app import configure
from tasks.pipeline.control import request_cancel
from tasks.pipeline.planning import plan_job
from tasks.pipeline.workflow_store import seed_default_workflows
from tasks.pipelines import dispatch_job
from tasks.stopping import stop_job
from tests.support.database import create_database, drop_database
from tests.support.emulator import start_emulator
from tests.support.farm import Farm, registered_nodes, running_farm
from tests.support.processes import Process, start_celery_worker, wait_for
from tests.support.web_server import answers, start_gunicorn
from tests.tasks.conftest import FAST_OPTIONS
from workers.storage import LocalStore, sha256_of

ROOT = Path(__file__).resolve().parent.parent
PG_PORT = 55441
REDIS_PORT = 6411
NODES = ("b1", "b2")
FAR = "far"  # the GPU node on the second host
FAR_EMULATOR_PORT = 8291
GPU_STAGES = ("keyframe", "animate", "interpolate")
RENDER_S = 1.0  # what the emulator holds each GPU stage, like a busy GPU
SCENES = 2
DISK_MB = 64
# The farm's clocks, shortened from their defaults (15 s, 15 s, 5 s) so 20 trials of every
# scenario fit in the time budget: a dead worker's stage moves on after LEASE_S, a lost message
# is re-sent after GRACE_S, and the sweeper looks for both every SWEEP_S.
LEASE_S = 6.0
GRACE_S = 6.0
SWEEP_S = 2.0
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Rig:
    """The running farm and the rows trials submit against."""

    settings: Settings
    services: PrivateServices
    app: Flask
    farm: Farm
    store: LocalStore
    log_dir: Path
    rng: random.Random
    owner_id: int = 0
    project_id: int = 0
    scene_ids: list[int] = field(default_factory=list)
    sink: Process | None = None
    web: Process | None = None
    web_url: str = ""
    # Prompt submissions seen by emulators since killed (their counts die with them).
    archived: Counter = field(default_factory=Counter)

    def start_sink(self) -> None:
        """(Re)start the progress sink under a stable consumer name."""
        argv = [sys.executable, "-m", "workers.progress_sink", "--consumer", "sink-chaos"]
        self.sink = Process(argv, self.settings.as_environ(), self.log_dir / "sink.log")

    def start_web(self) -> None:
        """(Re)start the web app."""
        self.web, self.web_url = start_gunicorn(
            self.settings.as_environ(), self.log_dir / "web.log"
        )

    def start_far_node(self) -> None:
        """The second host's ComfyUI and GPU worker, inside the namespace, reaching the farm's
        services on the veth address."""
        emulator = start_emulator(
            self.log_dir / FAR,
            step_seconds=self.farm.step_seconds,
            host=chaos_netns.FAR_IP,
            port=FAR_EMULATOR_PORT,
            prefix=chaos_netns.IN_NAMESPACE,
        )
        self.farm.emulators[FAR] = emulator
        far = over_veth(self.settings).with_overrides(worker_node=FAR, comfyui_url=emulator.url)
        self.farm.gpu_workers[FAR] = start_celery_worker(
            far.as_environ(),
            self.log_dir,
            queues=f"gpu,gpu.{FAR}",
            name=f"gpu-{FAR}",
            concurrency=self.farm.gpu_slots,
            prefix=chaos_netns.IN_NAMESPACE,
        )
        wait_for(lambda: FAR in registered_nodes(self.settings), 60, what="the far node")

    def stop_far_node(self) -> None:
        """Stop the second host's worker and ComfyUI (after archiving its counts)."""
        self.archive(FAR)
        self.farm.gpu_workers.pop(FAR).stop()
        self.farm.emulators.pop(FAR).stop()
        with self.app.app_context():
            db.session.execute(
                sa.text("UPDATE worker_nodes SET status = 'offline' WHERE name = :n"), {"n": FAR}
            )
            db.session.commit()

    def archive(self, node: str) -> None:
        """Keep a backend's submission counts before it is killed."""
        self.archived.update(emulator_submissions(self.farm.emulators[node].url))

    def submissions(self) -> Counter:
        """How often each prompt id was submitted, over every backend this run had."""
        total = Counter(self.archived)
        for emulator in self.farm.emulators.values():
            if emulator.alive():
                total.update(emulator_submissions(emulator.url))
        return total


def emulator_submissions(url: str) -> Counter:
    """Per prompt id, how often a backend was sent it (/emulator/stats)."""
    prompts = requests.get(f"{url}/emulator/stats", timeout=10).json()["prompts"]
    return Counter({prompt_id: facts["submitted"] for prompt_id, facts in prompts.items()})


def over_veth(settings: Settings) -> Settings:
    """The same settings, reaching Postgres and Redis on the farm's veth address."""

    def moved(url: str) -> str:
        return url.replace("127.0.0.1", chaos_netns.HOST_IP)

    return settings.with_overrides(
        database_url=moved(settings.database_url),
        redis_url=moved(settings.redis_url),
        broker_url=moved(settings.broker_url),
        result_backend=moved(settings.result_backend),
    )


@contextmanager
def artifact_disk(path: Path) -> Iterator[Path]:
    """A small tmpfs mounted at `path` for the artifacts, unmounted on the way out."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(path)],
        check=True,
        timeout=10,
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextmanager
def running_rig(*, far_host: bool, seed: int) -> Iterator[Rig]:
    """Everything a chaos run needs, started; all of it stopped and removed on the way out."""
    var = ROOT / "var" / "chaos"
    log_dir = var / f"logs-{time.strftime('%Y%m%d-%H%M%S')}"
    with ExitStack() as stack:
        if far_host:
            stack.enter_context(chaos_netns.second_host())
        services = PrivateServices(
            "chaos",
            PG_PORT,
            REDIS_PORT,
            database="chaos",
            listen=chaos_netns.HOST_IP if far_host else "",
            trust=chaos_netns.NETWORK if far_host else "",
        )
        services.down()
        services.up()
        stack.callback(services.down)
        disk = stack.enter_context(artifact_disk(var / "artifacts"))
        settings = load_settings().with_overrides(
            database_url=services.database_url,
            redis_url=services.redis_url,
            broker_url=redis_db_url(services.redis_url, 1),
            result_backend=redis_db_url(services.redis_url, 2),
            artifact_root=disk,
            sweep_every_s=SWEEP_S,
            setting_defaults={"stage_lease_s": LEASE_S, "lost_message_grace_s": GRACE_S},
        )
        drop_database(settings.database_url)
        create_database(settings.database_url)
        app = create_base_app(settings)
        configure(settings)
        with app.app_context():
            upgrade()
            seed_default_workflows(db.session)
            db.session.commit()
        farm = stack.enter_context(
            running_farm(settings, log_dir, log_dir / "farm", nodes=NODES, step_seconds=0.01)
        )
        rig = Rig(settings, services, app, farm, LocalStore(disk), log_dir, random.Random(seed))
        stack.callback(lambda: rig.sink and rig.sink.stop())
        stack.callback(lambda: rig.web and rig.web.stop())
        rig.start_sink()
        rig.start_web()
        with app.app_context():
            made = make_episode("chaos", SCENES, 64)
            rig.owner_id, rig.project_id, rig.scene_ids = (
                made.owner_id,
                made.project_id,
                made.scene_ids,
            )
        yield rig
        with app.app_context():
            db.engine.dispose()


def submit(rig: Rig) -> int:
    """Plan, commit and dispatch a scene job of every scene; each GPU stage renders RENDER_S."""
    extra = {stage: {"emulator_fault": f"slow:{RENDER_S}"} for stage in GPU_STAGES}
    with rig.app.app_context():
        job = plan_job(
            db.session,
            owner_id=rig.owner_id,
            project_id=rig.project_id,
            kind="scene",
            scene_ids=rig.scene_ids,
            options={**FAST_OPTIONS, "extra_data": extra},
        )
        db.session.commit()
        dispatch_job(job.id)
        return job.id


def rendering(rig: Rig, job_id: int, nodes: tuple[str, ...] | None = None) -> StageRun | None:
    """A GPU stage of the job that a backend (of `nodes`, if given) is executing now, once one
    is; None if the job ends first."""

    def look() -> StageRun | bool | None:
        with rig.app.app_context():
            db.session.expire_all()
            job = db.session.get(Job, job_id)
            if job.status in TERMINAL:
                return True
            runs = db.session.scalars(
                sa.select(StageRun).where(
                    StageRun.job_id == job_id,
                    StageRun.stage.in_(GPU_STAGES),
                    StageRun.status == "running",
                    StageRun.prompt_id.is_not(None),
                )
            ).all()
            for run in runs:
                if (nodes is None or run.backend in nodes) and executing(rig, run):
                    db.session.expunge(run)
                    return run
        return None

    found = wait_for(look, 120, interval=0.05, what=f"a stage of job {job_id} to render")
    return found if isinstance(found, StageRun) else None


def executing(rig: Rig, run: StageRun) -> bool:
    """Whether the run's backend is executing its prompt now."""
    emulator = rig.farm.emulators.get(run.backend)
    if emulator is None or not emulator.alive():
        return False
    queue = requests.get(f"{emulator.url}/queue", timeout=5).json()
    return any(item[1] == run.prompt_id for item in queue["queue_running"])


def within_render(rig: Rig) -> None:
    """Wait a random moment of the render that was just seen running."""
    time.sleep(rig.rng.uniform(0.05, 0.8) * RENDER_S)


def wait_ended(rig: Rig, job_id: int, timeout: float = 180) -> Job:
    """The job once terminal.

    :raises TimeoutError: it did not end in time.
    """

    def ended() -> Job | None:
        with rig.app.app_context():
            try:
                db.session.expire_all()
                job = db.session.get(Job, job_id)
            except sa.exc.OperationalError:  # Postgres restarting under the bench too
                db.session.rollback()
                return None
            if job.status in TERMINAL:
                db.session.expunge(job)
                return job
        return None

    return wait_for(ended, timeout, interval=0.1, what=f"job {job_id} to end")


def give_up(rig: Rig, job_id: int) -> None:
    """Cancel a job that did not end in time, so it does not hold the farm up for the next."""
    with rig.app.app_context():
        request_cancel(db.session, db.session.get(Job, job_id))
        db.session.commit()
        stop_job(job_id)


def duplicates(rig: Rig, job_id: int) -> int:
    """Prompt ids of the job submitted more than once (to one backend or over several)."""
    with rig.app.app_context():
        prompts = db.session.scalars(
            sa.select(StageRun.prompt_id).where(
                StageRun.job_id == job_id, StageRun.prompt_id.is_not(None)
            )
        ).all()
    counts = rig.submissions()
    return sum(counts[p] > 1 for p in prompts)


def lost_outputs(rig: Rig, job_id: int) -> int:
    """The job's published outputs that are missing or differ from their rows (sha256, or the
    frame count of a frames folder)."""
    bad = 0
    with rig.app.app_context():
        for asset in db.session.scalars(sa.select(Asset).where(Asset.job_id == job_id)):
            path = rig.store.path(asset.uri)
            if asset.kind == "frames":
                ok = path.is_dir() and len(list(path.glob("*.png"))) == asset.frames
            else:
                ok = path.is_file() and (asset.sha256 is None or sha256_of(path) == asset.sha256)
            bad += not ok
    return bad


def web_answers(rig: Rig) -> bool:
    """Whether the web app serves its health check."""
    return answers(rig.web_url)
