"""Planning: turn a generate request into a Job and its StageRun rows (nothing is sent yet).

Every stage's parameters are resolved here and stored on its row, so any stage can be re-run
from the rows alone, and a bad value is refused before anything is written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.errors import NotFoundError, ValidationError
from shared.models import Character, Episode, Job, JobKind, Project, Scene, Stage, StageRun
from tasks.render_options import RenderOptions, parse_options
from tasks.workflow_store import active_workflow, template_of
from workers.workflows import bind
from workers.workflows.loaders import INPUT_FOLDER

SCENE_STAGES = (Stage.KEYFRAME, Stage.ANIMATE, Stage.INTERPOLATE)
EPISODE_STAGES = (Stage.COMPILE, Stage.MIX)
# Values only known when the stage runs (its inputs come from the stage before it).
RUNTIME_PLACEHOLDERS = {"image": f"{INPUT_FOLDER}/check.png", "frames_dir": f"{INPUT_FOLDER}/check"}
MAX_ANIMATE_FRAMES = 64


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
) -> Job:
    """Add a queued Job with one StageRun per stage (per scene where it applies); no commit.

    :raises ValidationError: bad kind, options, priority, or values the workflows refuse.
    :raises NotFoundError: the project, episode, scenes or character do not exist there.
    """
    if kind not in set(JobKind):
        raise ValidationError(f"unknown job kind {kind!r}", fields={"kind": "unknown kind"})
    if not 0 <= priority <= 9:
        raise ValidationError("priority must be 0-9", fields={"priority": "must be 0-9"})
    opts = parse_options(options)
    project = session.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"project {project_id} not found", fields={"project_id": "not found"})
    job = Job(kind=kind, owner_id=owner_id, project_id=project_id, priority=priority,
              params={"options": options or {}})
    if kind == JobKind.CHARACTER:
        character = _character(session, project, character_id)
        runs = [_keyframe_for_character(session, project, character, opts)]
        job.params["character_id"] = character.id
    else:
        scenes = _scenes(session, project, kind, episode_id, scene_ids)
        job.episode_id = scenes[0].episode_id
        job.params["scene_ids"] = [s.id for s in scenes]
        stages = (Stage.KEYFRAME,) if kind == JobKind.IMAGE else SCENE_STAGES
        runs = [_scene_run(session, project, scene, stage, opts)
                for scene in scenes for stage in stages]
        if kind != JobKind.IMAGE:
            runs += _episode_runs(scenes, opts)
    job.stage_runs = runs
    session.add(job)
    session.flush()
    return job


def replan_scene_stage(session: Session, job: Job, scene: Scene, stage: Stage,
                       attempt: int) -> StageRun:
    """A new attempt of a scene's stage planned from the scene's current row and the job's
    options (a retake after the prompt or seed changed)."""
    opts = parse_options(job.params.get("options"))
    run = _scene_run(session, session.get(Project, job.project_id), scene, stage, opts)
    run.attempt = attempt
    return run


def _character(session: Session, project: Project, character_id: int | None) -> Character:
    character = session.get(Character, character_id) if character_id else None
    if character is None or character.project_id != project.id:
        raise NotFoundError(f"character {character_id} not found in project {project.id}",
                            fields={"character_id": "not found"})
    return character


def _scenes(session: Session, project: Project, kind: str, episode_id: int | None,
            scene_ids: list[int] | None) -> list[Scene]:
    if kind == JobKind.EPISODE:
        episode = session.get(Episode, episode_id) if episode_id else None
        if episode is None or episode.project_id != project.id:
            raise NotFoundError(f"episode {episode_id} not found in project {project.id}",
                                fields={"episode_id": "not found"})
        if not episode.scenes:
            raise ValidationError("the episode has no scenes", fields={"episode_id": "no scenes"})
        return list(episode.scenes)
    if not scene_ids:
        raise ValidationError("name the scenes to render", fields={"scene_ids": "required"})
    scenes = list(session.scalars(
        sa.select(Scene).join(Episode).where(Scene.id.in_(scene_ids),
                                             Episode.project_id == project.id)
        .order_by(Scene.order)))
    missing = sorted(set(scene_ids) - {s.id for s in scenes})
    if missing:
        raise NotFoundError(f"scenes {missing} not found in project {project.id}",
                            fields={"scene_ids": f"not found: {missing}"})
    if len({s.episode_id for s in scenes}) > 1:
        raise ValidationError("scenes of one job must belong to one episode",
                              fields={"scene_ids": "spans several episodes"})
    return scenes


def _size(opts: RenderOptions, episode: Episode) -> tuple[int, int]:
    return opts.width or episode.width, opts.height or episode.height


def _seed(opts: RenderOptions, scene: Scene | None, fallback: int) -> int:
    if scene is not None and scene.seed is not None:
        return scene.seed
    return opts.seed if opts.seed is not None else (fallback * 7919) % (2**32)


def _character_params(characters: list[Character]) -> dict[str, Any]:
    return {
        "trigger_words": [w.strip() for c in characters for w in c.trigger_words.split(",")
                          if w.strip()],
        "loras": [{"name": c.lora_name, "strength": c.lora_strength}
                  for c in characters if c.lora_name],
    }


def _prompt(project: Project, text: str) -> str:
    return f"{project.style}, {text}" if project.style else text


def _scene_run(session: Session, project: Project, scene: Scene, stage: Stage,
               opts: RenderOptions) -> StageRun:
    width, height = _size(opts, scene.episode)
    frames = opts.frames or max(2, min(MAX_ANIMATE_FRAMES, round(scene.duration_s * opts.fps)))
    common = {"seed": _seed(opts, scene, scene.id), "steps": opts.steps}
    if stage is Stage.KEYFRAME:
        params = {**common, **_character_params(scene.characters), "width": width,
                  "height": height, "prompt": _prompt(project, scene.prompt)}
        if scene.negative_prompt:
            params["negative_prompt"] = scene.negative_prompt
        weight = {"steps": opts.steps, "frames": 1}
    elif stage is Stage.ANIMATE:
        params = {**common, "frames": frames, "fps": opts.fps, "width": width, "height": height}
        if opts.engine == "animatediff":
            params |= {**_character_params(scene.characters),
                       "prompt": _prompt(project, f"{scene.prompt}, {scene.motion}".strip(", "))}
        weight = {"steps": opts.steps, "frames": frames}
    else:
        params = {"multiplier": opts.multiplier, "fps": opts.fps}
        weight = {"steps": 1, "frames": frames * opts.multiplier}
    name = "animate_svd" if stage is Stage.ANIMATE and opts.engine == "svd" else stage.value
    return _gpu_run(session, stage, name, params, weight, opts, scene_id=scene.id)


def _keyframe_for_character(session: Session, project: Project, character: Character,
                            opts: RenderOptions) -> StageRun:
    text = (f"{character.name}, {character.description}, character reference sheet, "
            "full body, front view, side view, back view, plain background")
    params = {**_character_params([character]), "prompt": _prompt(project, text),
              "seed": _seed(opts, None, character.id), "steps": opts.steps}
    if opts.width:
        params |= {"width": opts.width, "height": opts.height or opts.width}
    weight = {"steps": opts.steps, "frames": 1}
    return _gpu_run(session, Stage.KEYFRAME, "keyframe", params, weight, opts, scene_id=None)


def _gpu_run(session: Session, stage: Stage, workflow_name: str, params: dict[str, Any],
             weight: dict[str, int], opts: RenderOptions, *, scene_id: int | None) -> StageRun:
    workflow = active_workflow(session, workflow_name, opts.workflows.get(workflow_name))
    template = template_of(workflow)
    if "checkpoint" in template.params:
        # Always named on the row: routing prefers the backend that last loaded it.
        params["checkpoint"] = opts.checkpoint or template.params["checkpoint"].default
    params |= opts.stages.get(stage.value, {})
    params = {k: v for k, v in params.items() if k in template.params}
    _check_binds(template, params, stage)
    inputs = {"params": params, **weight}
    if stage.value in opts.extra_data:
        inputs["extra_data"] = opts.extra_data[stage.value]
    return StageRun(stage=stage.value, scene_id=scene_id, attempt=1, workflow_id=workflow.id,
                    inputs=inputs)


def _check_binds(template, params: dict[str, Any], stage: Stage) -> None:
    """Bind once with placeholders for run-time inputs, so bad values fail the request now."""
    trial = {**{k: v for k, v in RUNTIME_PLACEHOLDERS.items() if k in template.params}, **params}
    try:
        bind(template, trial, output_key="tower/check")
    except ValidationError as exc:
        fields = {f"options.stages.{stage.value}.{k}": v for k, v in exc.fields.items()}
        raise ValidationError(f"{stage.value}: {exc.message}", fields=fields) from exc


def _episode_runs(scenes: list[Scene], opts: RenderOptions) -> list[StageRun]:
    width, height = _size(opts, scenes[0].episode)
    video = {"fps": opts.fps * opts.multiplier, "width": width, "height": height}
    return [StageRun(stage=Stage.COMPILE.value, attempt=1, inputs={"params": video}),
            StageRun(stage=Stage.MIX.value, attempt=1, inputs={"params": {}})]
