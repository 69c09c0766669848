"""The job list: filters and keyset pagination."""

from __future__ import annotations

from web.identity import require_user, requires
from web.job_names import named_jobs
from web.jobs import list_jobs
from web.openapi import Blueprint
from web.schemas.records import JobPageSchema, JobQuerySchema

blp = Blueprint("jobs", __name__, url_prefix="/api/anime", description="Render jobs")


@blp.route("/jobs", methods=["GET"])
@requires()
@blp.arguments(JobQuerySchema, location="query")
@blp.response(200, JobPageSchema)
def get_jobs(query):
    """Jobs the caller may see (all for operators and admins), newest first."""
    limit, cursor = query.pop("limit"), query.pop("cursor")
    page = list_jobs(require_user(), query, limit=limit, cursor=cursor)
    return {**page, "items": named_jobs(page["items"])}
