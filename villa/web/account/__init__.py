from flask import Blueprint

bp = Blueprint("account", __name__)

from villa.web.account import routes  # noqa: E402, F401
