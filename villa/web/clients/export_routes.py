"""Managers export the filtered customer list to Excel (every export is logged)."""

from io import BytesIO

from flask import render_template_string, request, send_file
from flask_login import current_user

from villa import questions
from villa.auth import role_required
from villa.customers import FILTERS
from villa.exporter import export_customers
from villa.lookups import LookupRefused
from villa.models import office_today
from villa.transfer import XLSX_TYPE
from villa.web.clients import bp
from villa.web.errors.routes import render_error

# The same link templates/clients/index.html renders first; htmx refreshes it as the filters change.
EXPORT_LINK = (
    '<a href="{{ url_for("clients.export_xlsx", q=q or None, **filters) }}" role="button" '
    'class="secondary outline" data-testid="export">{{ _("Export these to Excel") }}</a>'
)


def _list_query() -> tuple[str, dict]:
    """The search and filters exactly as the customer list reads them."""
    q = request.args.get("q", "")[:60]
    filters = {name: request.args.get(name, "")[:20] for name in FILTERS if request.args.get(name)}
    filters.update(questions.filters_from(request.args))
    return q, filters


@bp.get("/export.xlsx")
@role_required("manager")
def export_xlsx():
    """Every page of the filtered list (up to 50,000 rows); the manager's team in full, others masked.

    A complete phone or ID number in the search is a lookup, limited as in the list (429 beyond)."""
    q, filters = _list_query()
    out = BytesIO()
    try:
        export_customers(current_user._get_current_object(), out, q, filters, ip=request.remote_addr or "")
    except LookupRefused as refused:
        return render_error(429, refused.message)
    out.seek(0)
    response = send_file(
        out, mimetype=XLSX_TYPE, as_attachment=True, download_name=f"customers-{office_today():%Y%m%d}.xlsx"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/export-link")
@role_required("manager")
def export_link():
    q, filters = _list_query()
    return render_template_string(EXPORT_LINK, q=q, filters=filters)
