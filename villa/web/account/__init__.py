from flask import Blueprint

bp = Blueprint("account", __name__)

from villa.web.account import pledge_routes, routes  # noqa: E402, F401
