"""A whole production (project, characters, episode, scenes and its render) in one request."""

from __future__ import annotations

from web import submissions
from web.identity import MEMBERS, require_user, requires
from web.openapi import Blueprint
from web.schemas.productions import (
    ProductionQuerySchema,
    ProductionResultSchema,
    ProductionSchema,
)

blp = Blueprint(
    "productions",
    __name__,
    url_prefix="/api/anime",
    description="Whole productions: all or nothing, updated when submitted again",
)


@blp.route("/productions", methods=["POST"])
@requires(*MEMBERS)
@blp.arguments(ProductionQuerySchema, location="query")
@blp.arguments(ProductionSchema)
@blp.response(200, ProductionResultSchema, description="Updated, or a dry run's verdict")
@blp.alt_response(201, schema=ProductionResultSchema, description="A new production")
def submit_production(query, data):
    """Create or update a production and queue its episode's render in one transaction (any
    refused part refuses the whole); `dry_run=true` checks everything and creates nothing."""
    outcome = submissions.submit_production(require_user(), data, dry_run=query["dry_run"])
    created = outcome.result == "created" and not outcome.dry_run
    return outcome.to_dict(), 201 if created else 200
