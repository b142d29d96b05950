"""The review queues (审核): managers at the first level, the audit team at the second."""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/review")

from villa.web.review import routes  # noqa: E402, F401
