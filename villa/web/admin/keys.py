"""Key rotation on the admin pages: the page starts a rotation, then htmx drives it one step a request.

A step is one batch of rows (villa.keys.rotation_step), so no request runs long even at a million
customers; the progress lives in the database, so closing the tab or a crash loses nothing and the
page continues where it stopped when it is opened again.
"""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import JOIN
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, ValidationError

from villa.auth import is_htmx, role_required
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.keys import RotationBusy, key_summary, rotation_state, rotation_step, start_rotation
from villa.models import AuditLog, User
from villa.web.admin import bp, section

STEP_BATCH = 2000
RECENT_ROTATIONS = 10
KIND_LABELS = {"data": _l("data key"), "index": _l("blind-index key")}


class IndexRotationForm(FlaskForm):
    """Re-indexing touches every customer: typing the new version number guards against a slip."""

    confirm = StringField(
        _l("Type the new blind-index key version to confirm"),
        validators=[DataRequired(_l("Type the new version number to confirm."))],
    )

    def __init__(self, *args, expected: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = str(expected)

    def validate_confirm(self, field):
        if (field.data or "").strip() != self.expected:
            raise ValidationError(_l("That is not the number shown."))


class DataRotationForm(FlaskForm):
    """Sent from the confirmation page only: it carries the version that page announced, so a tap on
    the keys page, a stray or repeated POST, or a page made before another rotation never rotates."""

    confirm = HiddenField()

    def __init__(self, *args, expected: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = str(expected)

    def validate_confirm(self, field):
        if (field.data or "").strip() != self.expected:
            raise ValidationError(_l("Confirm the rotation on this page first."))


@bp.get("/keys")
@role_required("admin")
def keys():
    return _keys_page()


@bp.get("/keys/rotate")
@role_required("admin")
def confirm_data_rotation():
    """The second step of 轮换数据密钥: what will happen, then 确认轮换 or 取消."""
    return _confirm_page()


@bp.post("/keys/rotate")
@role_required("admin")
def rotate_data_key():
    form = DataRotationForm(expected=key_summary()["data_version"] + 1)
    if not form.validate_on_submit():
        return _confirm_page(form, 422)
    return _start("data")


def _confirm_page(form=None, status=200):
    """The confirmation page; while a rotation runs there is nothing to confirm: back to the keys."""
    summary = key_summary()
    if summary["rotation"]:
        return redirect(url_for("admin.keys"), 303)
    new_version = summary["data_version"] + 1
    form = form or DataRotationForm(formdata=None, expected=new_version)
    form.confirm.data = str(new_version)
    page = render_template("admin/keys_confirm.html", form=form, summary=summary, new_version=new_version)
    return page, status


@bp.post("/keys/reindex")
@role_required("admin")
def rotate_index_key():
    form = IndexRotationForm(expected=key_summary()["index_version"] + 1)
    if not form.validate_on_submit():
        return _keys_page(index_form=form), 422
    return _start("index")


@bp.post("/keys/step")
@role_required("admin")
def key_step():
    """One batch of the rotation in progress; the returned fragment asks for the next one."""
    rotation = rotation_state()
    done, total, finished = rotation_step(STEP_BATCH)
    if not is_htmx():
        return redirect(url_for("admin.keys"), 303)
    return render_template(
        "admin/_key_progress.html",
        rotation=rotation,
        done=done,
        total=total,
        finished=finished,
        summary=key_summary(),
        kind_labels=KIND_LABELS,
    )


def _start(kind: str):
    try:
        start_rotation(kind, current_user._get_current_object())
    except RotationBusy as busy:
        flash(
            _("A %(kind)s rotation is still in progress: it must finish first.", kind=KIND_LABELS[busy.kind])
        )
    else:
        flash(_("Rotation of the %(kind)s started.", kind=KIND_LABELS[kind]), "success")
    return redirect(url_for("admin.keys"), 303)


def _keys_page(index_form=None):
    summary = key_summary()
    rotation = summary["rotation"]
    recent = (
        AuditLog.select(AuditLog, User)
        .join(User, on=(AuditLog.actor == User.id), join_type=JOIN.LEFT_OUTER)
        .where(AuditLog.action == "keys_rotated")
        .order_by(AuditLog.id.desc())
        .limit(RECENT_ROTATIONS)
    )
    return render_template(
        "admin/keys.html",
        summary=summary,
        rotation=rotation,
        done=rotation["rows_done"] if rotation else 0,
        total=rotation["rows_total"] if rotation else 0,
        finished=rotation is None,
        index_form=index_form or IndexRotationForm(formdata=None, expected=summary["index_version"] + 1),
        recent=recent,
        kind_labels=KIND_LABELS,
    )


section(
    "admin.keys",
    _l("Encryption keys"),
    _l("Rotate the data-encryption key or the blind-index key; see which versions are in use."),
)
