"""Login, logout, the caller's identity, API tokens and guest status."""

from __future__ import annotations

from flask import request

from web import accounts, guests
from web.identity import current_user, require_user, requires
from web.openapi import PUBLIC, Blueprint
from web.schemas.accounts import (
    ApiTokenCreatedSchema,
    ApiTokenCreateSchema,
    ApiTokenSchema,
    GuestStatusSchema,
    LoginResultSchema,
    LoginSchema,
    UserSchema,
)

blp = Blueprint("auth", __name__, description="Login, tokens and guest mode")


@blp.route("/auth/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, LoginResultSchema)
@blp.doc(**PUBLIC)
def login(data):
    """Exchange email and password for a bearer token (and optionally a session cookie)."""
    return accounts.log_in(
        data["email"],
        data["password"],
        remote_addr=request.remote_addr or "unknown",
        use_session=data["session"],
    )


@blp.route("/auth/logout", methods=["POST"])
@requires()
@blp.response(204)
def logout():
    """Revoke the presented access token, API token or session cookie."""
    accounts.log_out()


@blp.route("/auth/logout-all", methods=["POST"])
@requires()
@blp.response(204)
def logout_all():
    """End every access token and session cookie of the caller's account (not API tokens)."""
    accounts.log_out_everywhere(require_user())


@blp.route("/auth/me", methods=["GET"])
@requires()
@blp.response(200, UserSchema)
def me():
    """The authenticated account."""
    return require_user()


@blp.route("/auth/tokens", methods=["GET"])
@requires()
@blp.response(200, ApiTokenSchema(many=True))
def list_tokens():
    """The caller's long-lived API tokens."""
    return accounts.list_api_tokens(require_user())


@blp.route("/auth/tokens", methods=["POST"])
@requires()
@blp.arguments(ApiTokenCreateSchema)
@blp.response(201, ApiTokenCreatedSchema)
def create_token(data):
    """Create an API token for scripts (its lifetime is capped by role; guests' are shorter);
    its secret is shown only in this response."""
    return accounts.create_api_token(require_user(), data["name"], data["expires_in_days"])


@blp.route("/auth/tokens/<int:token_id>", methods=["DELETE"])
@requires()
@blp.response(200, ApiTokenSchema)
def revoke_token(token_id):
    """Revoke one of the caller's API tokens."""
    return accounts.revoke_api_token(require_user(), token_id)


@blp.route("/api/anime/guest-status", methods=["GET"])
@blp.response(200, GuestStatusSchema)
@blp.doc(security=[{}, {"bearerAuth": []}])
def guest_status():
    """What guests may do here, and for a guest caller how much is left this hour."""
    return guests.guest_status(current_user())
