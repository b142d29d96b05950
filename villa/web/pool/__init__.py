"""The public pool (公客池): reps claim lapsed customers within a quota; managers release them."""

from flask import Blueprint

bp = Blueprint("pool", __name__)

from villa.web.pool import routes  # noqa: E402, F401
