"""/docs: Swagger UI from the swagger-ui-bundle package, served by this app (no CDN), and
started by a script file of ours so the page needs no inline script."""

from __future__ import annotations

from flask import Blueprint
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/docs/assets"

# flask-smorest renders /docs from templates/swagger_ui.html (ours replaces its own), which
# loads the bundle from here.
bp = Blueprint(
    "docs-assets", __name__, static_folder=str(swagger_ui_path), static_url_path=ASSETS_URL
)
