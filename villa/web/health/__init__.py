"""Liveness for load balancers and the benchmark: answers only when the database does."""

from flask import Blueprint

bp = Blueprint("health", __name__)

from villa.web.health import routes  # noqa: E402, F401
