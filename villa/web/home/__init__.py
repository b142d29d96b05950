"""Each role's home page: what that person needs first when they pick up the tablet."""

from flask import Blueprint

bp = Blueprint("home", __name__)

from villa.web.home import routes  # noqa: E402, F401
