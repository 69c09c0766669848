"""Account management for admins."""

from __future__ import annotations

from shared.models import Role
from web import accounts
from web.identity import requires
from web.openapi import Blueprint
from web.schemas.accounts import UserCreateSchema, UserPageSchema, UserSchema, UserUpdateSchema
from web.schemas.common import PageQuerySchema

blp = Blueprint("users", __name__, url_prefix="/api/users", description="Accounts (admins)")


@blp.route("", methods=["GET"])
@requires(Role.ADMIN.value)
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, UserPageSchema)
def list_users(query):
    """Every account."""
    return accounts.list_users(**query)


@blp.route("", methods=["POST"])
@requires(Role.ADMIN.value)
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
def create_user(data):
    """Create an account with a role."""
    return accounts.create_user(data["email"], data["password"], data["role"])


@blp.route("/<int:user_id>", methods=["PATCH"])
@requires(Role.ADMIN.value)
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
def update_user(data, user_id):
    """Change an account's role, activation or password (accounts are never deleted)."""
    return accounts.update_user(user_id, data)
