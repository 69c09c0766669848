"""Submitting a production: the whole file in one request, which the farm creates (or updates)
with its episode's render, all or nothing; refusals come back in the file's terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tower_client.errors import ApiError, flatten_fields
from tower_client.production import ProductionError

if TYPE_CHECKING:
    from tower_client.api import TowerClient
    from tower_client.production import Production

PATH = "/api/anime/productions"
# Refusals about the file's content (the rest, such as 401 or 429, are not the file's fault).
FILE_REFUSALS = (403, 404, 409, 422)


@dataclass
class Submission:
    """What the farm did with a production (or, in a dry run, would do)."""

    result: str
    dry_run: bool
    project_id: int | None
    episode_id: int | None
    character_ids: dict[str, int] = field(default_factory=dict)
    scene_ids: list[int] = field(default_factory=list)
    job: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def job_id(self) -> int:
        """The render job's id (a dry run has none)."""
        return int(self.job["request_id"])


def submit_production(
    client: TowerClient,
    production: Production,
    *,
    dry_run: bool = False,
    priority: int | None = None,
) -> Submission:
    """Send the whole production; the farm creates or updates it and queues its render (a
    dry run only checks).

    :raises ProductionError: every problem the farm found, at its line in the file.
    :raises ApiError: a refusal that is not about the file (login, rate limit, server error).
    """
    params = {"dry_run": "true"} if dry_run else None
    try:
        body = client.call("POST", PATH, params=params, json=production.body(priority))
    except ApiError as exc:
        if exc.status not in FILE_REFUSALS or not exc.fields:
            raise
        raise refusal(production, exc) from exc
    return Submission(
        result=body["result"],
        dry_run=body["dry_run"],
        project_id=body["project_id"],
        episode_id=body["episode_id"],
        character_ids=body["character_ids"],
        scene_ids=body["scene_ids"],
        job={k: body[k] for k in ("request_id", "status", "status_url")},
        warnings=[production.describe(w["field"], w["message"]) for w in body["warnings"]],
    )


def refusal(production: Production, exc: ApiError) -> ProductionError:
    """The farm's refusal as problems at the file's lines: each field's message for a
    validation error, else the farm's message at the first field it names."""
    pairs = list(flatten_fields(exc.fields))
    if exc.status == 422:
        problems = [production.problem(name, message) for name, message in pairs]
    else:
        problems = [production.problem(pairs[0][0], exc.message)]
    return ProductionError(production.source, sorted(problems, key=lambda p: p.line or 0))
