"""The front desk: registration, duplicate checks, the walk-in rotation, today's visitors."""

from flask import Blueprint

bp = Blueprint("reception", __name__, url_prefix="/reception")

from villa.web.reception import rotation_routes, routes  # noqa: E402, F401
