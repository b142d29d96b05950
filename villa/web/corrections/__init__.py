"""Customer corrections on the web: the public link page, the QR code for it, and the review list."""

from flask import Blueprint

bp = Blueprint("corrections", __name__)

from villa.web.corrections import routes  # noqa: E402, F401
