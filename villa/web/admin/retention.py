"""Retention on the admin pages: the dry-run report, the confirmed run, and PIPL erasure requests."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from villa.auth import role_required
from villa.customers import customer_by_id
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.retention import (
    anonymise_lapsed_reports,
    archive_signed,
    erase,
    erasure_refusal,
    retention_cutoff,
    retention_report,
    retention_years,
    run_retention,
)
from villa.web.admin import bp, section
from villa.web.admin.forms import ErasureForm, RetentionRunForm
from villa.web.clients.routes import page_response

REPORT_ROWS = 200


@bp.route("/retention", methods=["GET", "POST"])
@role_required("admin")
def retention():
    report = retention_report()
    form = RetentionRunForm(expected=len(report))
    if report and form.validate_on_submit():
        done = run_retention(current_user._get_current_object(), apply=True)
        flash(_("%(num)d customers anonymised.", num=len(done)), "success")
        return redirect(url_for("admin.retention"), 303)
    return render_template(
        "admin/retention.html",
        form=form,
        report=report[:REPORT_ROWS],
        total=len(report),
        years=retention_years(),
        cutoff=retention_cutoff(),
        to_archive=len(archive_signed()),
        reports_to_anonymise=len(anonymise_lapsed_reports()),
    ), (422 if request.method == "POST" else 200)


@bp.post("/customers/<int:customer_id>/erase")
@role_required("admin")
def erase_customer(customer_id):
    """A PIPL erasure request, carried out at once; refused for customers with a signed contract."""
    customer = customer_by_id(customer_id) or abort(404)
    form = ErasureForm(expected=customer.id)
    refusal = erasure_refusal(customer)
    if refusal:
        form.form_errors.append(refusal)
    elif form.validate_on_submit():
        erase(customer, current_user._get_current_object(), form.reason.data)
        flash(_("The customer's personal data was erased."), "success")
        return redirect(url_for("clients.detail", customer_id=customer.id), 303)
    return page_response(customer, 422, erase_form=form)


section(
    "admin.retention",
    _l("Retention"),
    _l("Anonymise customers inactive past the retention period; archive signed customers."),
)
