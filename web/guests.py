"""Guest mode: what guests may submit and how many jobs they have left this hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from shared.db import db
from shared.errors import PermissionDeniedError, ValidationError
from shared.models import Job, JobKind, JobRetry, Project, Role, User
from shared.settings_store import get_setting

GUEST_KINDS = {"off": (), "images": (JobKind.IMAGE.value,)}
GUEST_REFUSED_OPTIONS = ("stages", "extra_data")


def guest_mode() -> str:
    """The configured guest mode: 'off' or 'images'."""
    return get_setting("guest_mode")


def jobs_in_last_hour(user: User) -> int:
    """How many jobs the user submitted or retried in the last hour (a retry renders again)."""
    since = datetime.now(UTC) - timedelta(hours=1)
    submitted = sa.select(sa.func.count(Job.id)).where(
        Job.owner_id == user.id, Job.created_at >= since
    )
    retried = sa.select(sa.func.count(JobRetry.id)).where(
        JobRetry.owner_id == user.id, JobRetry.created_at >= since
    )
    return db.session.scalar(sa.select(submitted.scalar_subquery() + retried.scalar_subquery()))


def guest_status(user: User | None) -> dict[str, Any]:
    """What guest accounts may do (and for a guest caller the jobs left this hour), and
    whether callers without an account may read public projects."""
    mode = guest_mode()
    per_hour = get_setting("guest_jobs_per_hour") if mode != "off" else 0
    is_guest = user is not None and user.role == Role.GUEST.value
    left = max(0, per_hour - jobs_in_last_hour(user)) if is_guest else None
    return {
        "mode": mode,
        "allowed_kinds": list(GUEST_KINDS[mode]),
        "jobs_per_hour": per_hour,
        "jobs_left": left,
        "is_guest": is_guest,
        "public_read": get_setting("public_read"),
    }


def check_guest_submission(user: User, kind: str, project: Project) -> None:
    """Let a guest submit only allowed kinds, on public demo projects (the hourly quota is
    counted under a lock when the job is written: `web.quotas.hold_submission`).

    :raises PermissionDeniedError: for a kind or project guests may not use.
    """
    if user.role != Role.GUEST.value:
        return
    mode = guest_mode()
    if kind not in GUEST_KINDS[mode]:
        raise PermissionDeniedError(f"guests may not submit {kind} jobs here")
    if not project.is_public:
        raise PermissionDeniedError("guests may only render public demo projects")


def check_guest_options(user: User, options: dict[str, Any] | None) -> None:
    """Guests render with the top-level options only: no per-stage parameters, no extra_data.

    :raises ValidationError: naming `options.stages` or `options.extra_data`.
    """
    if user.role != Role.GUEST.value:
        return
    refused = {
        f"options.{name}": "not available to guests"
        for name in GUEST_REFUSED_OPTIONS
        if (options or {}).get(name)
    }
    if refused:
        raise ValidationError(
            "guests may not set per-stage parameters or extra_data", fields=refused
        )
