"""Planning: turn a generate request into a Job and its StageRun rows (nothing is sent yet).

Which stages a job has comes from the stage registry; every stage's parameters are resolved
here (tasks.pipeline.stage_params) and stored on its row, so any stage can be re-run from the
rows alone, and a bad value is refused before anything is written.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.errors import NotFoundError, ValidationError
from shared.models import (
    Character,
    Episode,
    Job,
    JobKind,
    Project,
    Scene,
    StageRun,
    Transition,
    Workflow,
)
from shared.stages import STAGES, Per, StageKind, stage_kind
from tasks.pipeline.episode_format import check_format, check_scenes
from tasks.pipeline.render_options import RenderOptions, parse_options, with_defaults
from tasks.pipeline.stage_params import PLANNERS, Planned, Subject
from tasks.pipeline.workflow_store import active_workflow, template_of
from workers.workflows import Template, bind, with_placeholders


class Workflows:
    """The workflows one plan binds, each read and parsed once (an episode's scenes share
    them)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._found: dict[tuple[str, int | None], tuple[Workflow, Template]] = {}

    def get(self, name: str, version: int | None) -> tuple[Workflow, Template]:
        """The active (or the given) version of a workflow and its template.

        :raises NotFoundError: when no such workflow is stored.
        """
        if (name, version) not in self._found:
            workflow = active_workflow(self.session, name, version)
            self._found[(name, version)] = (workflow, template_of(workflow))
        return self._found[(name, version)]


def plan_job(
    session: Session,
    *,
    owner_id: int,
    project_id: int,
    kind: str,
    episode_id: int | None = None,
    scene_ids: list[int] | None = None,
    character_id: int | None = None,
    options: dict[str, Any] | None = None,
    priority: int = 5,
    max_scene_s: float | None = None,
) -> Job:
    """Add a queued Job with one StageRun per stage (per scene where it applies); no commit.

    :raises ValidationError: bad kind, options, priority, or values the workflows refuse;
        options that contradict the episode's format; a scene longer than `max_scene_s` or a
        sound cue past the end of its rendered scene.
    :raises NotFoundError: the project, episode, scenes or character do not exist there.
    """
    if kind not in set(JobKind):
        raise ValidationError(f"unknown job kind {kind!r}", fields={"kind": "unknown kind"})
    if not 0 <= priority <= 9:
        raise ValidationError("priority must be 0-9", fields={"priority": "must be 0-9"})
    options = with_defaults(options)
    opts = parse_options(options)
    project = session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"project {project_id} not found", fields={"project_id": "not found"})
    workflows = Workflows(session)
    job = Job(
        kind=kind,
        owner_id=owner_id,
        project_id=project_id,
        priority=priority,
        params={"options": options},
    )
    if kind == JobKind.CHARACTER:
        character = _character(session, project, character_id)
        sheet = Subject(project, None, None, opts, character)
        runs = [plan_run(session, first_image_stage(), sheet, workflows)]
        job.params["character_id"] = character.id
    else:
        scenes = _scenes(session, project, kind, episode_id, scene_ids)
        check_format(opts, scenes[0].episode, animated=kind != JobKind.IMAGE)
        if kind != JobKind.IMAGE:
            check_scenes(scenes, scenes[0].episode, max_scene_s)
        job.episode_id = scenes[0].episode_id
        job.params["scene_ids"] = [s.id for s in scenes]
        kinds = stages_of(kind, opts)
        runs = [
            run
            for scene in scenes
            for k in kinds
            if k.per is Per.SCENE
            for run in plan_runs(
                session, k, Subject(project, scene.episode, scene, opts), workflows
            )
        ]
        runs += [
            plan_run(session, k, Subject(project, a.episode, a, opts, next_scene=b), workflows)
            for a, b in generated_pairs(scenes)
            for k in kinds
            if k.per is Per.PAIR
        ]
        episode = Subject(project, scenes[0].episode, None, opts)
        runs += [plan_run(session, k, episode, workflows) for k in kinds if k.per is Per.EPISODE]
    job.stage_runs = runs
    session.add(job)
    session.flush()
    return job


def stages_of(kind: str, opts: RenderOptions) -> list[StageKind]:
    """The stages a job of this kind runs: up to the first image for an images-only job, else
    every stage, optional ones when the options ask for them."""
    if kind == JobKind.IMAGE:
        return [first_image_stage()]
    return [k for k in STAGES if k.option is None or getattr(opts, k.option, None)]


def generated_pairs(scenes: list[Scene]) -> list[tuple[Scene, Scene]]:
    """Consecutive scenes (in the job's order) joined by a generated transition."""
    pairs = zip(scenes, scenes[1:], strict=False)
    return [(a, b) for a, b in pairs if a.transition == Transition.GENERATED]


def first_image_stage() -> StageKind:
    """The stage that makes a scene's image (the keyframe)."""
    return next(k for k in STAGES if "image" in k.outputs)


def replan_scene_stage(
    session: Session, job: Job, scene: Scene, stage: str, attempt: int
) -> list[StageRun]:
    """A new attempt of a scene's stage (each of its segments) planned from the scene's current
    row and the job's options (a retake after the prompt or seed changed)."""
    opts = parse_options(job.params.get("options"))
    subject = Subject(session.get(Project, job.project_id), scene.episode, scene, opts)
    runs = plan_runs(session, stage_kind(stage), subject)
    for run in runs:
        run.attempt = attempt
    return runs


def _character(session: Session, project: Project, character_id: int | None) -> Character:
    character = session.get(Character, character_id) if character_id else None
    if character is None or character.project_id != project.id:
        raise NotFoundError(
            f"character {character_id} not found in project {project.id}",
            fields={"character_id": "not found"},
        )
    return character


def _scenes(
    session: Session,
    project: Project,
    kind: str,
    episode_id: int | None,
    scene_ids: list[int] | None,
) -> list[Scene]:
    if kind == JobKind.EPISODE:
        episode = session.get(Episode, episode_id) if episode_id else None
        if episode is None or episode.project_id != project.id:
            raise NotFoundError(
                f"episode {episode_id} not found in project {project.id}",
                fields={"episode_id": "not found"},
            )
        if not episode.scenes:
            raise ValidationError("the episode has no scenes", fields={"episode_id": "no scenes"})
        return list(episode.scenes)
    if not scene_ids:
        raise ValidationError("name the scenes to render", fields={"scene_ids": "required"})
    scenes = list(
        session.scalars(
            sa.select(Scene)
            .join(Episode)
            .where(Scene.id.in_(scene_ids), Episode.project_id == project.id)
            .order_by(Scene.order)
        )
    )
    missing = sorted(set(scene_ids) - {s.id for s in scenes})
    if missing:
        raise NotFoundError(
            f"scenes {missing} not found in project {project.id}",
            fields={"scene_ids": f"not found: {missing}"},
        )
    if len({s.episode_id for s in scenes}) > 1:
        raise ValidationError(
            "scenes of one job must belong to one episode",
            fields={"scene_ids": "spans several episodes"},
        )
    return scenes


def plan_runs(
    session: Session, kind: StageKind, subject: Subject, workflows: Workflows | None = None
) -> list[StageRun]:
    """The first attempt of one stage for its subject: one row, or one per segment when the
    stage renders a long scene as consecutive segments (each its own unit of GPU work).
    `workflows`: the plan's workflows read so far (a plan of many scenes reads each once).

    :raises ValidationError: a value the workflow refuses.
    :raises NotFoundError: the workflow (or the version the options name) is not stored.
    """
    workflows = workflows or Workflows(session)
    planned = PLANNERS[kind.name](subject)
    if not planned.segments:
        return [plan_run(session, kind, subject, workflows)]
    runs = []
    for index, frames in enumerate(planned.segments):
        piece = replace(planned, params={**planned.params, "frames": frames}, frames=frames)
        run = _gpu_run(workflows, kind, piece, subject.opts, subject.scene.id)
        run.segment = index
        runs.append(run)
    return runs


def plan_run(
    session: Session, kind: StageKind, subject: Subject, workflows: Workflows | None = None
) -> StageRun:
    """The first attempt of one stage for its subject, its parameters checked against the
    workflow it binds (`workflows`: the plan's workflows read so far).

    :raises ValidationError: a value the workflow refuses.
    :raises NotFoundError: the workflow (or the version the options name) is not stored.
    """
    planned = PLANNERS[kind.name](subject)
    scene_id = subject.scene.id if subject.scene is not None else None
    if planned.template is None:
        return StageRun(
            stage=kind.name, scene_id=scene_id, attempt=1, inputs={"params": planned.params}
        )
    run = _gpu_run(workflows or Workflows(session), kind, planned, subject.opts, scene_id)
    if subject.next_scene is not None:
        run.inputs = {**run.inputs, "next_scene_id": subject.next_scene.id}
    return run


def _gpu_run(
    workflows: Workflows,
    kind: StageKind,
    planned: Planned,
    opts: RenderOptions,
    scene_id: int | None,
) -> StageRun:
    workflow, template = workflows.get(planned.template, opts.workflows.get(planned.template))
    params = dict(planned.params)
    if "checkpoint" in template.params:
        # Always named on the row: routing prefers the backend that last loaded it.
        chosen = opts.checkpoint if planned.image_checkpoint else None
        params["checkpoint"] = chosen or template.params["checkpoint"].default
    params |= opts.stages.get(kind.name, {})
    params = {k: v for k, v in params.items() if k in template.params}
    _check_binds(template, params, kind.name)
    inputs = {"params": params, "steps": planned.steps, "frames": planned.frames}
    if planned.reference_asset_id is not None:
        inputs["reference_asset_id"] = planned.reference_asset_id
    if kind.name in opts.extra_data:
        inputs["extra_data"] = opts.extra_data[kind.name]
    return StageRun(
        stage=kind.name, scene_id=scene_id, attempt=1, workflow_id=workflow.id, inputs=inputs
    )


def _check_binds(template, params: dict[str, Any], stage: str) -> None:
    """Bind once with placeholders for run-time inputs, so bad values fail the request now."""
    try:
        bind(template, with_placeholders(template, params), output_key="tower/check")
    except ValidationError as exc:
        fields = {f"options.stages.{stage}.{k}": v for k, v in exc.fields.items()}
        raise ValidationError(f"{stage}: {exc.message}", fields=fields) from exc
