"""Error pages: a full page, or a small fragment for htmx; never a traceback."""

from flask import Blueprint

bp = Blueprint("errors", __name__)

from villa.web.errors import routes  # noqa: E402, F401
