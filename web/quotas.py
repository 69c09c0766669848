"""Submission limits: urgent priorities are for staff, and an account has a bounded number of
jobs queued or running (guests also an hourly quota).

The counts are taken under a lock on the caller's user row, held until the transaction that
inserts (or re-queues) the job commits, so simultaneous requests cannot both see room for one
more job. The limits are farm settings (`shared.settings_catalog`).
"""

from __future__ import annotations

import sqlalchemy as sa

from shared.db import db
from shared.errors import PermissionDeniedError, RateLimitedError
from shared.models import Job, Role, Status, User
from shared.settings_store import get_setting
from web.guests import jobs_in_last_hour
from web.identity import is_staff

ACTIVE_STATUSES = (Status.QUEUED.value, Status.RUNNING.value)
# A job takes minutes; the client may try again about then.
ACTIVE_RETRY_AFTER_S = 60


def check_priority(user: User, priority: int) -> None:
    """Let only staff submit above the users' highest priority.

    :raises PermissionDeniedError: naming `priority` when a non-staff caller asks for more.
    """
    highest = get_setting("user_max_priority")
    if priority > highest and not is_staff(user):
        raise PermissionDeniedError(
            f"priority {priority} is for operators and admins; yours may be 0-{highest}",
            fields={"priority": f"must be at most {highest} for your role"},
        )


def hold_submission(user: User, *, excluding: int | None = None) -> None:
    """Lock the caller's row for this transaction, then check there is room for one more
    active job (not counting `excluding`, a job being queued again) and, for a guest, that the
    hour's quota (new jobs and retries alike) is not used up.

    :raises RateLimitedError: when a limit is reached (nothing is written).
    """
    # FOR NO KEY UPDATE: it serialises submissions as FOR UPDATE did, but lets through the
    # KEY SHARE lock of a foreign-key check on the user. A dispatch updating the job (which
    # references its owner) needs that lock while a retry of the same job, holding this one,
    # waits for the job's rows: with FOR UPDATE the two deadlocked (a 503 for the retry).
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update(key_share=True))
    if user.role == Role.GUEST.value:
        per_hour = get_setting("guest_jobs_per_hour")
        if jobs_in_last_hour(user) >= per_hour:
            raise RateLimitedError(
                f"guests may submit or retry {per_hour} jobs per hour", retry_after=3600
            )
    if is_staff(user):
        return
    cap = get_setting("active_jobs_per_user")
    active = active_jobs(user, excluding=excluding)
    if active >= cap:
        raise RateLimitedError(
            f"you have {active} jobs queued or running; at most {cap} may be at once "
            "(wait for one to end or cancel one)",
            retry_after=ACTIVE_RETRY_AFTER_S,
        )


def active_jobs(user: User, *, excluding: int | None = None) -> int:
    """How many of the user's jobs are queued or running (not counting `excluding`)."""
    query = sa.select(sa.func.count(Job.id)).where(
        Job.owner_id == user.id, Job.status.in_(ACTIVE_STATUSES)
    )
    if excluding is not None:
        query = query.where(Job.id != excluding)
    return db.session.scalar(query) or 0
