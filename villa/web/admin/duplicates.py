"""Duplicates: the scan's list, the side-by-side merge, the merge log with its undo.

An admin never sees a customer's full phone, ID number or address: the comparison shows them
masked, and says whether the two records hold the same value.
"""

from typing import NamedTuple

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice

from villa.auth import role_required
from villa.customers import customer_by_id
from villa.duplicates import CHOOSABLE, MergeError, merge, scan, undo
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.identity import mask_id_number, mask_name, mask_phone
from villa.labels import GENDER_LABELS, PURPOSE_LABELS, STAGE_LABELS
from villa.models import Customer, MergeLog
from villa.profile import EDITABLE, current_value
from villa.timeline import field_label
from villa.web.admin import bp, section

HIDDEN = "••••"
EXTRA_LABELS = {"channel": _l("Channel"), "owner": _l("Owner")}


class Row(NamedTuple):
    name: str
    label: object
    shown: tuple[str, str]  # record a, record b
    same: bool
    keep: str  # "a" or "b": the side preselected


@bp.get("/duplicates")
@role_required("admin")
def duplicates():
    return render_template("admin/duplicates.html", candidates=scan())


@bp.route("/merge/<int:a_id>/<int:b_id>", methods=["GET", "POST"])
@role_required("admin")
def merge_pair(a_id, b_id):
    a, b = _customer_or_404(a_id), _customer_or_404(b_id)
    if a.id == b.id:
        abort(404)
    rows = comparison(a, b)
    form = merge_form(rows)
    if form.validate_on_submit():
        survivor, absorbed = (a, b) if form.survivor.data == "a" else (b, a)
        keep = form.survivor.data
        choices = {row.name: "survivor" if form[row.name].data == keep else "absorbed" for row in rows}
        try:
            merge(survivor, absorbed, choices, current_user._get_current_object())
        except MergeError as refused:
            flash(str(refused), "error")
        else:
            flash(_("Merged: record #%(gone)d is now part of this customer.", gone=absorbed.id), "success")
            return redirect(url_for("clients.detail", customer_id=survivor.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/merge.html", a=a, b=b, rows=rows, form=form), status


@bp.get("/merges")
@role_required("admin")
def merges():
    logs = MergeLog.select().order_by(MergeLog.id.desc()).limit(200)
    return render_template("admin/duplicates.html", logs=logs)


@bp.post("/merges/<int:log_id>/undo")
@role_required("admin")
def undo_merge(log_id):
    log = MergeLog.get_or_none(MergeLog.id == log_id) or abort(404)
    try:
        undo(log, current_user._get_current_object())
    except MergeError as refused:
        flash(str(refused), "error")
    else:
        flash(
            _("Merge undone: records #%(a)d and #%(b)d are apart again.", a=log.survivor_id, b=log.merged_id),
            "success",
        )
    return redirect(url_for("admin.merges"), 303)


def comparison(a: Customer, b: Customer) -> list[Row]:
    """One row per field the admin may choose, values as an admin may see them."""
    rows = []
    for name in CHOOSABLE:
        values = (_value(a, name), _value(b, name))
        keep = "b" if _empty(values[0]) and not _empty(values[1]) else "a"
        label = EXTRA_LABELS.get(name) or field_label(name)
        rows.append(Row(name, label, (_shown(a, name), _shown(b, name)), values[0] == values[1], keep))
    return rows


def merge_form(rows: list[Row]) -> FlaskForm:
    sides = [SelectChoice("a", "a"), SelectChoice("b", "b")]
    fields = {row.name: RadioField(row.label, choices=sides, default=row.keep) for row in rows}
    fields["survivor"] = RadioField(_l("Record that stays"), choices=sides, default="a")
    return type("MergeForm", (FlaskForm,), fields)()


def _value(customer: Customer, name: str):
    if name in EDITABLE:
        return current_value(customer, name)
    return getattr(customer, f"{name}_id") if name in ("channel", "owner") else getattr(customer, name)


def _empty(value) -> bool:
    return value in (None, "") or (isinstance(value, tuple) and not value[1])


def _shown(customer: Customer, name: str) -> str:
    value = _value(customer, name)
    if _empty(value):
        return "—"
    if name == "id_number":
        return mask_id_number(value[1])
    if name in ("phone", "alt_phone"):
        return mask_phone(value)
    if name == "name":
        return mask_name(value)
    if name in EDITABLE and EDITABLE[name].hidden_from_others:
        return HIDDEN
    if name == "owner":
        return customer.owner.display_name
    if name == "channel":
        return customer.channel.name
    if name == "hukou_local":
        return str(_("Yes") if value else _("No"))
    labels = {"gender": GENDER_LABELS, "purpose": PURPOSE_LABELS, "stage": STAGE_LABELS}.get(name, {})
    return str(labels.get(value, value))


def _customer_or_404(customer_id: int) -> Customer:
    return customer_by_id(customer_id) or abort(404)


section(
    "admin.duplicates",
    _l("Duplicates"),
    _l("Records that are likely the same customer; merge them, or undo a merge."),
)
