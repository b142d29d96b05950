"""Everything under /customers/: the list, the client page and what is done on it.

The client page (routes.py) and each thing changed from it have a module here: a section of
fields at once (section_routes), one field and the stage (edit_routes), the confirmation and
cancellation of deals (deal_routes), follow-ups (followup_routes), reassignment
(reassign_routes), the admin's erasure form (erasure_routes), the customer's correction link
(correction_routes), the list's export (export_routes), moving the customers a manager ticked in
the list (handover_routes) and correcting the source channel or visit type (source_routes).
What the page shows comes from villa/client_page.py.
"""

from flask import Blueprint

bp = Blueprint("clients", __name__, url_prefix="/customers")

from villa.web.clients import (  # noqa: E402, F401
    correction_routes,
    deal_routes,
    edit_routes,
    erasure_routes,
    export_routes,
    followup_routes,
    handover_routes,
    reassign_routes,
    routes,
    section_routes,
    source_routes,
)
