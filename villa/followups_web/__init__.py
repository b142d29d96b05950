"""Follow-ups on the client page (routes under /customers/<id>/followups)."""

from flask import Blueprint

from villa.followups_web.forms import KIND_LABELS

bp = Blueprint("followups", __name__, url_prefix="/customers")
# The rows are also rendered inside the client page, whose view does not know about kinds.
bp.add_app_template_global(lambda code: KIND_LABELS.get(code, code), "followup_kind_label")

from villa.followups_web import routes  # noqa: E402, F401
