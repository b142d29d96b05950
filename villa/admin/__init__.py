"""Administration: users first; settings, backups and keys join as they are built."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from villa.admin import materials, routes  # noqa: E402, F401
