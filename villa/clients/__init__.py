"""The customer list and the client page (routes under /customers/)."""

from flask import Blueprint

bp = Blueprint("clients", __name__, url_prefix="/customers")

from villa.clients import edit_routes, export_routes, routes  # noqa: E402, F401
