"""The landing page and the vendored-by-dependency Bootstrap assets."""

from __future__ import annotations

from pathlib import Path

import xstatic.pkg.bootstrap as xstatic_bootstrap
from quart import Blueprint, Response, render_template, send_from_directory

blueprint = Blueprint("home", __name__)
# Bootstrap arrives as the xstatic-bootstrap package; the app serves its files itself.
vendor = Blueprint("vendor", __name__, url_prefix="/static/vendor")
BOOTSTRAP_DIR = Path(xstatic_bootstrap.BASE_DIR)


@blueprint.get("/")
async def index() -> str:
    """Tickets for sale."""
    return await render_template("index.html")


@vendor.get("/bootstrap/<path:filename>")
async def bootstrap(filename: str) -> Response:
    """Bootstrap's CSS and JS, from the installed package, cached for a day."""
    return await send_from_directory(BOOTSTRAP_DIR, filename, cache_timeout=86400)
