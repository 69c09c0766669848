"""A small real farm for pipeline tests: ComfyUI emulators, a GPU worker per emulator, a CPU
worker, and beat, all as subprocesses on this session's database and Redis numbers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from shared.config import Settings
from tests.support.emulator import Emulator, start_emulator
from tests.support.processes import Process, start_celery_worker, wait_for


@dataclass
class Farm:
    """The running processes of a test farm."""

    settings: Settings
    log_dir: Path
    emulators: dict[str, Emulator] = field(default_factory=dict)
    gpu_workers: dict[str, Process] = field(default_factory=dict)
    cpu_worker: Process | None = None
    beat: Process | None = None
    gpu_slots: int = 2  # task slots per backend: one prompt running, the next queued
    step_seconds: float = 0.02
    models: dict[str, dict] = field(default_factory=dict)  # a node's models, when not default
    model_load_seconds: float = 0.0  # what a checkpoint switch costs a backend

    def gpu_env(self, node: str) -> dict[str, str]:
        """The environment of the GPU worker serving `node`."""
        return self.settings.with_overrides(
            worker_node=node, comfyui_url=self.emulators[node].url
        ).as_environ()

    def start_gpu_worker(self, node: str) -> Process:
        """(Re)start the GPU worker of a node: queues gpu and gpu.<node>, two slots."""
        worker = start_celery_worker(
            self.gpu_env(node),
            self.log_dir,
            queues=f"gpu,gpu.{node}",
            name=f"gpu-{node}",
            concurrency=self.gpu_slots,
        )
        self.gpu_workers[node] = worker
        return worker

    def restart_backend(self, node: str, *, without_classes: tuple[str, ...] = ()) -> None:
        """Start a node's ComfyUI again on its port after it died (queue and history empty;
        `without_classes`: node classes whose pack failed to load this time)."""
        old = self.emulators[node]
        old.stop()
        self.emulators[node] = start_emulator(
            old.root,
            step_seconds=self.step_seconds,
            models=self.models.get(node),
            port=old.port,
            model_load_seconds=self.model_load_seconds,
            without_classes=without_classes,
        )

    def restart_node(
        self, node: str, root: Path, *, models: dict | None = None, step_seconds: float = 0.02
    ) -> None:
        """Replace a node's emulator (e.g. with more models) and restart its worker."""
        self.gpu_workers[node].stop()
        self.emulators[node].stop()
        self.models[node] = models
        self.emulators[node] = start_emulator(root, step_seconds=step_seconds, models=models)
        self.start_gpu_worker(node)

    def stop(self) -> None:
        """Stop every process of the farm: the workers' warm shutdowns side by side (a second
        or two each), then the emulators."""
        workers = [p for p in [*self.gpu_workers.values(), self.cpu_worker, self.beat] if p]
        for process in workers:
            process.ask_to_stop()
        for process in workers:
            process.stop()
        for emulator in self.emulators.values():
            emulator.stop()

    def logs(self) -> str:
        """The tail of every worker log, for failure messages."""
        parts = []
        for process in [*self.gpu_workers.values(), self.cpu_worker, self.beat]:
            if process is not None:
                parts.append(f"== {process.log_path.name}\n{process.log_text()[-4000:]}")
        return "\n".join(parts)


@contextmanager
def running_farm(
    settings: Settings,
    log_dir: Path,
    root: Path,
    *,
    nodes: tuple[str, ...],
    step_seconds: float = 0.02,
    beat: bool = True,
    gpu_slots: int = 2,
    models: dict[str, dict] | None = None,
    model_load_seconds: float = 0.0,
) -> Iterator[Farm]:
    """Start the farm (`models`: a node's model inventory, when not the default;
    `model_load_seconds`: what a checkpoint switch costs a backend) and wait until every GPU
    node has registered."""
    farm = Farm(
        settings,
        log_dir,
        gpu_slots=gpu_slots,
        step_seconds=step_seconds,
        models=dict(models or {}),
        model_load_seconds=model_load_seconds,
    )
    try:
        for node in nodes:
            farm.emulators[node] = start_emulator(
                root / node,
                step_seconds=step_seconds,
                models=farm.models.get(node),
                model_load_seconds=model_load_seconds,
            )
            farm.start_gpu_worker(node)
        farm.cpu_worker = start_celery_worker(
            settings.as_environ(), log_dir, queues="cpu,control", name="cpu", concurrency=2
        )
        if beat:
            schedule = log_dir / "celerybeat-schedule"
            farm.beat = Process(
                [*farm.cpu_worker.argv[:5], "beat", "-l", "INFO", "--schedule", str(schedule)],
                settings.as_environ(),
                log_dir / "beat.log",
            )
        wait_for(
            lambda: registered_nodes(settings) >= set(nodes),
            60,
            what=f"GPU nodes {nodes} to register",
        )
        yield farm
    finally:
        farm.stop()


def registered_nodes(settings: Settings) -> set[str]:
    """Names of nodes whose worker registered and heartbeats."""
    import sqlalchemy as sa

    engine = sa.create_engine(settings.sqlalchemy_url)
    try:
        with engine.connect() as conn:
            return set(
                conn.scalars(sa.text("SELECT name FROM worker_nodes WHERE status = 'online'"))
            )
    finally:
        engine.dispose()
