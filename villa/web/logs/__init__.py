"""The logs on the web, for the audit team and admins: read-only (GET only, by design)."""

from flask import Blueprint

bp = Blueprint("logs", __name__, url_prefix="/logs")

from villa.web.logs import routes  # noqa: E402, F401
