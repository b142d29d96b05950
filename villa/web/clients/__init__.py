"""Everything under /customers/: the list, the client page and what is done on it.

The client page (routes.py) and each thing changed from it have a module here: fields and stage
(edit_routes), follow-ups (followup_routes), reassignment (reassign_routes), the customer's
correction link (correction_routes), and the list's export (export_routes).
"""

from flask import Blueprint

from villa.web.clients.followup_forms import KIND_LABELS

bp = Blueprint("clients", __name__, url_prefix="/customers")
# The rows are also rendered inside the client page, whose view does not know about kinds.
bp.add_app_template_global(lambda code: KIND_LABELS.get(code, code), "followup_kind_label")

from villa.web.clients import (  # noqa: E402, F401
    correction_routes,
    edit_routes,
    export_routes,
    followup_routes,
    reassign_routes,
    routes,
)
