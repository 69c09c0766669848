"""The operators' dashboard pages: jobs, a job's detail, failed stages, nodes, queues, a
project's Echo Brain suggestions and (for admins) the farm settings.

Pages are rendered on the server; live parts (progress bars, retry/cancel, drain) are small
scripts calling the JSON API with the session cookie and its CSRF token.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from shared.errors import AuthenticationError, FarmError
from shared.models import EchoFeature, Role
from shared.models.status import JOB_STATUSES
from shared.stages import STAGE_NAMES
from web import services, settings_admin
from web.dashboard import reports, triage
from web.identity import STAFF, current_user, require_user
from web.job_names import production_names
from web.jobs import list_jobs
from web.production import visible_project
from web.query_args import choice_arg, id_arg, one_arg
from web.suggestions import list_suggestions

log = logging.getLogger(__name__)
bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

PAGE_SIZE = 50
OPEN_PAGES = frozenset({"dashboard.login", "dashboard.static"})
RETRIED = "retried"  # the flashed outcome of a group's retry


@bp.before_request
def require_staff() -> Response | tuple[str, int] | None:
    """Send anonymous visitors to the login page; other roles get a 403 page."""
    if request.endpoint in OPEN_PAGES:
        return None
    try:
        user = current_user()
    except AuthenticationError:
        session.clear()  # a deactivated account's cookie
        user = None
    if user is None:
        return redirect(url_for("dashboard.login", next=back_after_login()))
    if user.role not in STAFF:
        return render_template("dashboard/forbidden.html", user=user), 403
    return None


def back_after_login() -> str:
    """Where the login page sends the visitor back: this page, or the jobs list for a form
    posted to an address without a page of its own (opening it would be a 405)."""
    rule = request.url_rule
    if rule is not None and "GET" in (rule.methods or ()):
        return request.full_path.rstrip("?")
    return url_for("dashboard.jobs")


@bp.context_processor
def page_globals() -> dict:
    """What every page template needs: the user, the CSRF token, the Flower link."""
    try:
        user = current_user()
    except FarmError:  # a bad credential or CSRF token: the error page is drawn without it
        user = None
    return {
        "user": user,
        "csrf_token": session.get("csrf", ""),
        "flower_url": current_app.config.get("TOWER_FLOWER_URL") or "",
    }


@bp.get("/login")
def login() -> str:
    """The login form; its script posts to /auth/login asking for the session cookie."""
    target = request.args.get("next", "")
    # Only paths on this site: an open redirect would make a phishing link of the login page.
    if not target.startswith("/dashboard") or target.startswith("//"):
        target = url_for("dashboard.jobs")
    return render_template("dashboard/login.html", next_url=target)


@bp.get("/")
def jobs() -> str:
    """Jobs, newest first, filtered by status, owner and project, with live progress bars."""
    filters = {
        "status": choice_arg("status", JOB_STATUSES),
        "owner_id": id_arg("owner_id"),
        "project_id": id_arg("project_id"),
    }
    page = list_jobs(current_user(), filters, limit=PAGE_SIZE, cursor=one_arg("cursor") or None)
    chosen = {name: value for name, value in filters.items() if value is not None}
    next_url = (
        url_for("dashboard.jobs", cursor=page["next_cursor"], **chosen)
        if page["next_cursor"]
        else None
    )
    return render_template(
        "dashboard/jobs.html",
        rows=reports.describe_jobs(page["items"]),
        next_url=next_url,
        filters=filters,
        statuses=JOB_STATUSES,
    )


@bp.get("/jobs/<int:job_id>")
def job(job_id: int) -> str:
    """A job: its per-scene stage timeline, errors with the failing node, and previews.

    :raises NotFoundError: when the job does not exist.
    """
    timeline = reports.build_timeline(reports.load_job(job_id))
    return render_template("dashboard/job.html", t=timeline, stages=list(STAGE_NAMES))


@bp.route("/jobs/<int:job_id>/cancel", methods=["GET", "POST"])
def cancel_job(job_id: int) -> str | Response:
    """Ask before cancelling a job (GET); cancel it when the form is sent (POST).

    :raises NotFoundError: when the job does not exist.
    """
    job = reports.load_job(job_id)
    if request.method == "POST":
        try:
            services.cancel_job(require_user(), job_id)
        except FarmError as exc:
            return render_template(
                "dashboard/cancel.html", job=job, names=names_of(job), refused=exc.message
            ), exc.status
        return redirect(url_for("dashboard.job", job_id=job_id))
    return render_template("dashboard/cancel.html", job=job, names=names_of(job), refused=None)


def names_of(job) -> dict:
    """The production names of one job."""
    return production_names([job])[job.id]


@bp.get("/failed")
def failed() -> str:
    """Failed stages grouped by identical error, filtered by owner and project; a group is
    retried at once, a stage alone with its own button."""
    filters = {"owner_id": id_arg("owner_id"), "project_id": id_arg("project_id")}
    groups = triage.group_failures(triage.list_failed_stages(**filters))
    retried = "; ".join(get_flashed_messages(category_filter=[RETRIED]))
    return render_template("dashboard/failed.html", groups=groups, filters=filters, retried=retried)


@bp.post("/failed/retry")
def retry_group() -> Response:
    """Retry every stage of a group (the form lists their ids); back to the page with what
    happened."""
    # ASCII digits only: str.isdigit() also passes "²", which int() refuses (a 500).
    stage_ids = [int(i) for i in request.form.getlist("stage_id") if i.isascii() and i.isdigit()]
    outcomes = []
    for job_id, stage_id in triage.retry_plan(stage_ids).items():
        try:
            services.retry_job(require_user(), job_id, stage_id)
            outcomes.append(f"job {job_id} queued")
        except FarmError as exc:
            outcomes.append(f"job {job_id}: {exc.message}")
    back = {k: v for k, v in request.form.items() if k in ("owner_id", "project_id") and v}
    # In the session, not the address: a link could otherwise show an operator any outcome.
    flash("; ".join(outcomes) or "nothing", RETRIED)
    return redirect(url_for("dashboard.failed", **back))


@bp.get("/nodes")
def nodes() -> str:
    """GPU nodes (filled and refreshed from /api/fleet/nodes by the page's script)."""
    return render_template("dashboard/nodes.html")


@bp.get("/queues")
def queues() -> str:
    """Celery queues and workers (from /api/fleet/queues), with a link to Flower."""
    return render_template("dashboard/queues.html")


@bp.get("/projects/<int:project_id>/suggestions")
def suggestions(project_id: int) -> str:
    """Echo Brain's suggestions for a project, newest first, with what each answered.

    :raises NotFoundError: when the project does not exist.
    """
    feature = choice_arg("feature", [f.value for f in EchoFeature])
    user = current_user()
    page = list_suggestions(
        user, project_id, feature=feature, limit=PAGE_SIZE, cursor=one_arg("cursor")
    )
    next_url = (
        url_for("dashboard.suggestions", project_id=project_id, cursor=page["next_cursor"],
                **({"feature": feature} if feature else {}))
        if page["next_cursor"]
        else None
    )  # fmt: skip
    return render_template(
        "dashboard/suggestions.html",
        project=visible_project(user, project_id),
        rows=page["items"],
        feature=feature,
        features=[f.value for f in EchoFeature],
        next_url=next_url,
    )


@bp.get("/settings")
def settings() -> str | tuple[str, int]:
    """Farm settings (admins only), edited in place by the page's script, and recent changes."""
    user = current_user()
    if user.role != Role.ADMIN.value:
        return render_template("dashboard/forbidden.html", user=user, needs="admin"), 403
    changes = settings_admin.audit_page(name=None, limit=PAGE_SIZE, cursor=None)["items"]
    return render_template(
        "dashboard/settings.html", settings=settings_admin.list_settings()["items"], changes=changes
    )
