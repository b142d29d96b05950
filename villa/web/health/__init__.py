"""For monitors: liveness (/healthz), readiness of the nightly upkeep (/healthz/ready), /metrics."""

from flask import Blueprint

bp = Blueprint("health", __name__)

from villa.web.health import routes  # noqa: E402, F401
