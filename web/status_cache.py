"""The status endpoint's answer, kept per process and served again while nothing in it changed.

Pollers ask for a job's status far more often than it changes, and building the report (the
job, its stage runs and assets through the ORM, scene orders, waiting reasons, production
names, the schema dump, the JSON) costs several times a request. Each poll instead reads one
version of the rows the report shows: the row versions (`xmin`, the writing transaction) of
the job, its stage runs, their assets, their scenes, its project and episode, hashed in one
query, so any committed write by any process, deleted rows included, gives a new version. The
live state laid over it is read from Redis on every poll too. An answer is served again only
for the same job, row version and live state; a report whose waiting reasons read the fleet
(a queued GPU stage) also needs the same version of the fleet's rows, and is kept at most
FLEET_S, as a node's silence changes them with no write.
The caller's account and whether they may see the job are checked on every poll, from the
same row as the version.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Response, current_app, request
from sqlalchemy.engine import Connection, Engine, Row

from shared.db import db, side_engine
from shared.errors import NotFoundError
from shared.prepared import PreparedQuery
from shared.progress import queue_live_state
from web.credentials import AccessClaims
from web.events import LiveState, lay_live_state, live_state_read, read_live_state
from web.identity import (
    access_claims_reading,
    check_account,
    check_role,
    is_staff,
    require_user,
)
from web.jobs import stored_report
from web.schemas.generation import JobStatusSchema

ENTRIES = 512  # jobs kept per process
FLEET_S = 1.0
POLL_ENGINE = "tower.poll_engine"
POLL_POOL_SIZE = 5  # connections per web process kept for the version reads (as the main pool)
POLL_POOL_OVERFLOW = 5  # more opened, and closed again, while all kept ones are busy
SCHEMA = JobStatusSchema()

# The caller's account and the versions of the job's rows and the fleet's, in one round trip.
CALLER_AND_VERSION = PreparedQuery(
    "tower_status_version",
    (("job_id", "bigint"), ("user_id", "bigint")),
    """
    SELECT u.id AS user_id, u.is_active, u.session_version, u.role, j.owner_id,
      md5(concat_ws('/', j.xmin,
      (SELECT string_agg(r.id || ':' || r.xmin, ',' ORDER BY r.id)
         FROM stage_runs r WHERE r.job_id = j.id),
      (SELECT string_agg(a.id || ':' || a.xmin, ',' ORDER BY a.id)
         FROM assets a JOIN stage_runs r ON a.stage_run_id = r.id WHERE r.job_id = j.id),
      (SELECT string_agg(s.id || ':' || s.xmin, ',' ORDER BY s.id)
         FROM scenes s WHERE s.id IN (SELECT r.scene_id FROM stage_runs r WHERE r.job_id = j.id)),
      (SELECT p.xmin FROM projects p WHERE p.id = j.project_id),
      (SELECT e.xmin FROM episodes e WHERE e.id = j.episode_id))) AS version,
      (SELECT md5(coalesce(string_agg(n.id || ':' || n.xmin, ',' ORDER BY n.id), ''))
         FROM worker_nodes n) AS fleet
    FROM users u LEFT JOIN jobs j ON j.id = :job_id
    WHERE u.id = :user_id
    """,
)


@dataclass(frozen=True)
class Versions:
    """Versions of a job's rows and of the fleet's."""

    rows: str
    fleet: str


@dataclass(frozen=True)
class Answer:
    """A status body as sent, with what it was built from."""

    version: str
    fleet: str | None  # None when the report does not read the fleet
    live: str
    body: bytes
    etag: str
    expires_at: float


class AnswerCache:
    """The last answer per job, the least recently asked dropped beyond ENTRIES."""

    def __init__(self) -> None:
        self.answers: OrderedDict[int, Answer] = OrderedDict()
        self.lock = threading.Lock()  # gthread workers share it between threads

    def get(self, job_id: int, version: Versions, live: str) -> Answer | None:
        """The kept answer if it was built from these versions and live state and is not
        stale."""
        with self.lock:
            answer = self.answers.get(job_id)
            if answer is None:
                return None
            self.answers.move_to_end(job_id)
        fits = (
            answer.version == version.rows
            and answer.fleet in (None, version.fleet)
            and answer.live == live
        )
        return answer if fits and time.monotonic() < answer.expires_at else None

    def put(self, job_id: int, answer: Answer) -> None:
        """Keep `answer` for its job, in place of the one before."""
        with self.lock:
            self.answers[job_id] = answer
            self.answers.move_to_end(job_id)
            while len(self.answers) > ENTRIES:
                self.answers.popitem(last=False)


def status_response(job_id: int) -> Response:
    """A visible job's status for the caller: 304 when If-None-Match names the current body's
    ETag.

    :raises AuthenticationError: without valid credentials.
    :raises PermissionDeniedError: for a guest when guest mode is off.
    :raises NotFoundError: when missing or not the caller's.
    """
    # A bearer access token's revocation check reads the live state in its round trip.
    claims, live_results = access_claims_reading(lambda pipe: queue_live_state(pipe, job_id))
    version = visible_version(job_id, claims)
    if live_results is None:
        live_state = read_live_state(job_id)
    else:
        live_state = live_state_read(job_id, live_results)
    live = json.dumps(live_state, sort_keys=True, default=str)
    cache = answer_cache()
    answer = cache.get(job_id, version, live)
    if answer is None:
        answer = build_answer(job_id, version, live, live_state)
        cache.put(job_id, answer)
    if answer.etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(answer.body, mimetype="application/json")
    response.set_etag(answer.etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


def visible_version(job_id: int, claims: AccessClaims | None) -> Versions:
    """The version of the rows of a job the caller may see. A bearer access token's account
    (its verified `claims`) is checked on the row read with the version (what web.identity's
    current_session_user and require_user check, without loading the user); other
    credentials (no claims) go through require_user.

    :raises AuthenticationError: without valid credentials.
    :raises PermissionDeniedError: for a guest when guest mode is off.
    :raises NotFoundError: when missing or not the caller's.
    """
    user_id = claims.user_id if claims is not None else require_user().id
    wanted = job_id if 0 < job_id < 2**63 else 0  # no job has id 0
    row = read_version(wanted, user_id)
    if claims is not None:
        check_account(row, claims.session_version)
        check_role(row.role)
    # The visibility rule is web.jobs.may_see's.
    if row is None or row.owner_id is None or not (row.owner_id == row.user_id or is_staff(row)):
        raise NotFoundError(f"job {job_id} not found")
    return Versions(rows=row.version, fleet=row.fleet)


def read_version(job_id: int, user_id: int) -> Row | None:
    """CALLER_AND_VERSION's row, None without the user. Outside the request's transaction,
    on a connection of poll_engine, when nothing in the request used the session yet: a poll
    only reads, and in a transaction it would cost two round trips more (psycopg2 sends BEGIN
    before the first statement, and the session's end sends ROLLBACK)."""
    values = {"job_id": job_id, "user_id": user_id}
    session = db.session()
    if session.in_transaction() or isinstance(session.bind, Connection):
        # require_user read the caller's row, or the session joins its caller's transaction
        return CALLER_AND_VERSION.execute(session.connection(), values).one_or_none()
    with poll_engine().connect() as connection:
        return CALLER_AND_VERSION.execute(connection, values).one_or_none()


def poll_engine() -> Engine:
    """This process's engine for the polls' version reads, its connections always in
    autocommit: switching a pooled connection in and out of autocommit costs a round trip of
    its own (psycopg2 resets default_transaction_isolation). Its few connections are each
    held for one query."""
    return side_engine(
        POLL_ENGINE,
        isolation_level="AUTOCOMMIT",
        pool_size=POLL_POOL_SIZE,
        max_overflow=POLL_POOL_OVERFLOW,
    )


def build_answer(job_id: int, version: Versions, live: str, state: LiveState) -> Answer:
    """The report built from the rows (at least as new as `version`) and the live state, for
    a caller visible_version let see it."""
    report, reads_fleet = stored_report(job_id)
    body = current_app.json.dumps(SCHEMA.dump(lay_live_state(report, state))).encode() + b"\n"
    lifetime = FLEET_S if reads_fleet else float("inf")
    return Answer(
        version=version.rows,
        fleet=version.fleet if reads_fleet else None,
        live=live,
        body=body,
        etag=hashlib.blake2b(body, digest_size=16).hexdigest(),
        expires_at=time.monotonic() + lifetime,
    )


def answer_cache() -> AnswerCache:
    """This process's answers, created on first use."""
    return current_app.extensions.setdefault("tower.status_answers", AnswerCache())
