"""The incident register, for the audit team and the admin."""

from flask import Blueprint

bp = Blueprint("incidents", __name__, url_prefix="/incidents")

from villa.web.incidents import routes  # noqa: E402, F401
