"""Stream tokens: open a job's live events from a browser's EventSource."""

from __future__ import annotations

from web.identity import require_user, requires
from web.openapi import Blueprint
from web.schemas.streams import StreamTokenSchema
from web.stream_tokens import issue_stream_token

blp = Blueprint("streams", __name__, description="Live events from browsers")


@blp.route("/api/anime/generation/<int:request_id>/stream-token", methods=["POST"])
@requires()
@blp.response(201, StreamTokenSchema)
def create_stream_token(request_id):
    """A token, valid for minutes, that opens this job's event stream (and nothing else) as
    `?stream_token=`: an EventSource cannot send an Authorization header."""
    return issue_stream_token(require_user(), request_id)
