"""报备: a broker's own list and form, and the channel staff's form on a broker's behalf."""

from flask import Blueprint

bp = Blueprint("broker", __name__, url_prefix="/broker")

from villa.web.broker import routes  # noqa: E402, F401
