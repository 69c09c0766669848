"""Farm settings (admins): read, change, reset, and the audit of every change."""

from __future__ import annotations

from shared.models import Role
from web import settings_admin
from web.identity import require_user, requires
from web.openapi import Blueprint
from web.schemas.settings import (
    AuditQuerySchema,
    SettingChangePageSchema,
    SettingListSchema,
    SettingSchema,
    SettingWriteSchema,
)

ADMIN = Role.ADMIN.value
blp = Blueprint(
    "settings", __name__, url_prefix="/api/settings", description="Farm settings (admins)"
)


@blp.route("", methods=["GET"])
@requires(ADMIN)
@blp.response(200, SettingListSchema)
def list_settings():
    """Every setting with its value in effect, default, bounds and meaning."""
    return settings_admin.list_settings()


@blp.route("/audit", methods=["GET"])
@requires(ADMIN)
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, SettingChangePageSchema)
def audit(query):
    """Every change, newest first: who, when, the value before and after."""
    return settings_admin.audit_page(**query)


@blp.route("/<name>", methods=["GET"])
@requires(ADMIN)
@blp.response(200, SettingSchema)
def get_setting(name):
    """One setting."""
    return settings_admin.describe_setting(name)


@blp.route("/<name>", methods=["PUT", "PATCH"])
@requires(ADMIN)
@blp.arguments(SettingWriteSchema)
@blp.response(200, SettingSchema)
def change_setting(data, name):
    """Give a setting a new value; it takes effect everywhere within seconds."""
    return settings_admin.change_setting(require_user(), name, data["value"])


@blp.route("/<name>", methods=["DELETE"])
@requires(ADMIN)
@blp.response(200, SettingSchema)
def reset_setting(name):
    """Put a setting back to its default."""
    return settings_admin.reset_to_default(require_user(), name)
