"""GPU stage deliveries: place the stage on a backend (or re-attach where its prompt went), run
it on ComfyUI, and try a failed attempt again where it may succeed.

Everything else of a delivery's life is tasks.base; the ComfyUI work is the plain
`workers.gpu_stage.run_gpu_stage`, run without a database session open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.errors import FarmError, TransientError
from shared.models import StageRun
from shared.models.columns import utcnow
from shared.settings_store import get_setting
from shared.stages import STAGES
from tasks.base import MAX_ATTEMPTS, Claimed, Delivery
from tasks.labels import carried
from tasks.pipeline.fleet import forget_node_class, mark_model_lacking, node_name
from tasks.pipeline.leases import Owner, release
from tasks.pipeline.left_prompts import TAKE_OFF_TIMEOUT, forget_prompt_left, mark_prompt_left
from tasks.pipeline.routing import NoCapableBackend, Placement, place, running_load
from tasks.pipeline.stage_rows import GpuWork, gpu_work, run_inputs
from workers.comfyui import (
    ComfyClassRejected,
    ComfyClient,
    ComfyModelMissing,
    ComfyModelRejected,
    ComfyPromptLost,
    ComfyProtocolError,
    ComfyUnavailable,
)
from workers.gpu_stage import Artifact, StageSpec, run_gpu_stage, runtime_inputs
from workers.workflows import bind, requirements

log = logging.getLogger(__name__)

# An attempt that ended this way may have left its prompt queued or running on its backend.
LEFT_BEHIND = (ComfyUnavailable, SoftTimeLimitExceeded)

# A stage re-routed this often runs where it lands, if that backend can run it at all.
MAX_REROUTES = 8
# Between looks for a capable backend while none is online (bounded by NODE_WAIT_S).
NODE_POLL_S = 2.0
GPU_TASKS = frozenset(kind.task_name for kind in STAGES if kind.is_gpu)


class GpuDelivery(Delivery[GpuWork]):
    """A delivery of a GPU stage; `reroutes`: how often its message was sent elsewhere."""

    def __init__(self, task: Task, run_id: int, generation: int, reroutes: int = 0) -> None:
        super().__init__(task, run_id, generation)
        self.reroutes = reroutes
        self.here = node_name(self.ctx.settings)

    def settle(
        self, session: Session, claimed: Claimed
    ) -> tuple[GpuWork, Placement | None] | FarmError:
        """Place the attempt in its claim's transaction. A FarmError (an earlier stage's output
        is gone, the workflow does not bind) comes from reading, before anything is written
        here, so the claim still commits and `prepare` records the failure."""
        try:
            return self.place_attempt(session, claimed.owner)
        except FarmError as exc:
            return exc

    def prepare(self, claimed: Claimed) -> GpuWork:
        """Act on the placement `settle` recorded: run here (or re-attach where the prompt
        already went), or send the stage on.

        :raises Retry: the stage belongs on another backend's queue, or waits for one.
        :raises NoCapableBackend: no registered backend has what the workflow needs, or none
            that has it came online within the node_wait_s setting.
        :raises FarmError: the attempt could not be read or bound (recorded as its failure).
        """
        if isinstance(claimed.settled, FarmError):
            raise claimed.settled
        work, placement = claimed.settled
        if placement is None:  # re-attached to its prompt
            claimed.relay.backend = work.backend
            return work
        if placement.kind == "impossible":
            raise NoCapableBackend(placement.reason)
        if placement.kind == "wait":
            log.info("waiting run_id=%s for a capable backend: %s", self.run_id, placement.reason)
            raise self.task.retry(
                queue=placement.queue,
                countdown=NODE_POLL_S,
                kwargs={**self.labels(placement.queue), "reroutes": self.reroutes},
            )
        if placement.kind == "elsewhere":
            log.info("re-routing run_id=%s to %s", self.run_id, placement.queue)
            raise self.task.retry(
                queue=placement.queue,
                countdown=0,
                kwargs={**self.labels(placement.queue), "reroutes": self.reroutes + 1},
            )
        log.info(
            "stage placed run_id=%s stage=%s backend=%s", self.run_id, work.stage, work.backend
        )
        claimed.relay.backend = work.backend
        return work

    def place_attempt(self, session: Session, owner: Owner) -> tuple[GpuWork, Placement | None]:
        """The attempt's work and where it runs, recorded on its row (releasing it when it
        belongs elsewhere); no placement when its prompt already exists on its backend."""
        work = gpu_work(session, self.run_id, self.ctx.store)
        if work.backend and self.prompt_exists(work):
            return replace(work, look_first=True), None
        run = session.get(StageRun, self.run_id)
        # Bound once, with the names its uploads will get: routing reads what it needs,
        # and the same prompt is submitted.
        prompt = bind(
            work.template,
            {**work.params, **runtime_inputs(work.template, work.prompt_id)},
            output_key=work.output_key,
        )
        placement = place(
            session,
            run,
            requirements(prompt),
            work.params.get("checkpoint") if get_setting("route_by_checkpoint") else None,
            self.here,
            settle=self.reroutes >= MAX_REROUTES,
        )
        if placement.kind == "wait":
            placement = waited(run, placement, get_setting("node_wait_s"))
        if placement.kind == "here":
            work = take_here(run, work, placement)
            work = replace(work, prompt=prompt, look_first=work.look_first or self.redelivered)
        elif placement.kind != "impossible":
            release(session, self.run_id, owner)
        return work, placement

    def hand_on(self, session: Session, work: GpuWork) -> None:
        """Send the chain's next GPU stage straight to the backend that ran this one when it
        takes the checkpoint that backend now holds and nothing else runs there: on the shared
        queue another backend would pick it up only to re-route it there (a claim, a placement
        and a Celery hop lost). A busy backend leaves it to the shared queue, where any free
        backend holding the checkpoint keeps it. Routing still decides when it arrives."""
        following = next_in_chain(self.task.request)
        checkpoint = work.params.get("checkpoint")
        if following is None or checkpoint is None or not get_setting("route_by_checkpoint"):
            return
        backend = work.backend or self.here
        inputs = run_inputs(session, following.run_id)
        if inputs.get("params", {}).get("checkpoint") != checkpoint:
            return
        if running_load(session).get(backend, 0):
            return
        following.send_to(f"gpu.{backend}")

    def labels(self, queue: str) -> dict:
        """The message's Flower labels, for sending it again to `queue`."""
        return carried(self.task.request.kwargs, queue)

    @property
    def redelivered(self) -> bool:
        """Whether the broker delivered this message before (its prompt may exist already)."""
        info = self.task.request.delivery_info or {}
        return bool(info.get("redelivered"))

    def prompt_exists(self, work: GpuWork) -> bool:
        """Whether the attempt's prompt is still known to the backend it went to."""
        if not work.backend_url:
            return False
        try:
            return self.ctx.client(work.backend_url).locate(work.prompt_id) is not None
        except ComfyUnavailable:
            return False

    def client_of(self, work: GpuWork):
        """This process's client of the attempt's backend."""
        return self.ctx.client(work.backend_url or self.ctx.settings.comfyui_url)

    def execute(self, work: GpuWork, claimed: Claimed) -> list[Artifact]:
        """Run (or follow) the prompt and store its outputs."""
        spec = StageSpec(
            prompt_id=work.prompt_id,
            client_id=self.ctx.client_id,
            template=work.template,
            params=work.params,
            output_key=work.output_key,
            inputs=work.inputs,
            extra_data=work.extra_data,
            # Follow the prompt as long as this delivery may run (longer for a long scene).
            deadline_s=float((self.task.request.timelimit or (None, None))[1] or 1800),
            prompt=work.prompt,
        )
        return run_gpu_stage(
            spec,
            self.client_of(work),
            self.ctx.store,
            on_event=claimed.relay.on_event,
            look_first=work.look_first,
        )

    def interrupter(self, work: GpuWork) -> Callable[[], None]:
        """Take the prompt off its backend (pending or running) when the job is cancelled."""
        client = self.client_of(work)
        return lambda: client.take_off(work.prompt_id)

    def withdraw(self, work: GpuWork, exc: BaseException) -> None:
        """Take the attempt's prompt off its backend when the attempt gave up on it (its time
        limit or deadline passed, or the backend stopped answering for a while): ComfyUI runs a
        prompt to its end whether or not anyone still follows it, so it would hold the GPU for
        a result nobody collects, and the next attempt there would queue behind it. A prompt
        already over is left alone (the targeted interrupt only stops a running one)."""
        if not isinstance(exc, LEFT_BEHIND) or isinstance(exc, ComfyPromptLost):
            return
        try:
            self.take_off_or_leave(work, exc)
        except SQLAlchemyError as err:  # Postgres away longer than transaction() waits
            log.warning("could not note prompt_id=%s as left: %s", work.prompt_id, err)

    def take_off_or_leave(self, work: GpuWork, exc: BaseException) -> None:
        """Take the prompt off its backend, or leave it marked for the backend's node.

        :raises SQLAlchemyError: when the mark cannot be written or cleared.
        """
        url = work.backend_url or self.ctx.settings.comfyui_url
        # Marked first: should the backend not answer, or this process die, its node takes the
        # prompt off once it answers again; no moment leaves it unmarked.
        mark_prompt_left(self.ctx.engine, self.run_id)
        try:
            with ComfyClient(url, timeout=TAKE_OFF_TIMEOUT) as client:
                client.take_off(work.prompt_id)
        except (ComfyUnavailable, ComfyProtocolError) as err:
            log.warning(
                "could not withdraw prompt_id=%s from %s: %s; its node takes it off when it "
                "answers again",
                work.prompt_id,
                url,
                err,
            )
            return
        forget_prompt_left(self.ctx.engine, [self.run_id])
        log.info("withdrew prompt_id=%s after %s", work.prompt_id, type(exc).__name__)

    def retry_queue(
        self, session: Session, work: GpuWork, claimed: Claimed, exc: BaseException
    ) -> str | None:
        """A model the backend lacks (it failed to load one it lists, or refused one routing
        believed it had: its listing changed since it registered) goes to any backend not known
        to lack it, and so does a node class it refused as unknown; other transient failures
        stay on the same backend first (routing moves them once it failed the job twice)."""
        backend = work.backend or self.here
        if isinstance(exc, ComfyModelMissing | ComfyModelRejected):
            for folder, model in exc.missing:
                mark_model_lacking(session, backend, folder, model)
            return "gpu"
        if isinstance(exc, ComfyClassRejected):
            forget_node_class(session, backend, exc.node_class)
            return "gpu"
        if isinstance(exc, TransientError) and claimed.attempt < MAX_ATTEMPTS:
            return f"gpu.{backend}"
        return None


class NextStage:
    """The chain's next message, when it is a GPU stage bound for the shared queue."""

    def __init__(self, message: dict) -> None:
        self.message = message
        self.run_id: int = message["args"][0]

    def send_to(self, queue: str) -> None:
        """Send it to `queue` (Celery publishes the chain's next message after this task)."""
        self.message.setdefault("options", {})["queue"] = queue
        self.message["kwargs"] = carried(self.message.get("kwargs"), queue)


def next_in_chain(request) -> NextStage | None:
    """The next message of the delivery's chain, if it is a GPU stage on the shared queue."""
    following = (request.chain or [None])[-1]
    if not isinstance(following, dict) or following.get("task") not in GPU_TASKS:
        return None
    if (following.get("options") or {}).get("queue", "gpu") != "gpu" or not following.get("args"):
        return None
    return NextStage(following)


def take_here(run: StageRun, work: GpuWork, placement: Placement) -> GpuWork:
    """Record that this backend runs the attempt (and now holds its checkpoint) on the rows
    routing read; the snapshot with its backend. A row that already named a prompt may have
    submitted it: look first."""
    look_first = run.prompt_id is not None
    node = placement.row
    run.waiting_since = None
    run.backend = placement.node
    run.prompt_id = work.prompt_id
    node.last_checkpoint = work.params.get("checkpoint", node.last_checkpoint)
    return replace(
        work, backend=placement.node, backend_url=node.comfyui_url, look_first=look_first
    )


def waited(run: StageRun, placement: Placement, limit_s: float) -> Placement:
    """Start or check the stage's wait for a capable backend; past the limit it is impossible."""
    now = utcnow()
    run.waiting_since = run.waiting_since or now
    if (now - run.waiting_since).total_seconds() < limit_s:
        return placement
    return Placement(
        "impossible", reason=f"no capable backend online for {span(limit_s)}: {placement.reason}"
    )


def span(seconds: float) -> str:
    """A duration as people say it: '10 min', '45 s'."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
