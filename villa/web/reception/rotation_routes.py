"""The walk-in rotation at the desk (routes under /reception/rotation)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from villa import rotation
from villa.auth import is_htmx, role_required
from villa.i18n import lazy_gettext as _l
from villa.models import User
from villa.web.reception import bp

VIEWERS = ("reception", "rep", "manager")
DESK = ("reception", "manager")


def rotation_context(error=None) -> dict:
    """What templates/reception/_rotation.html needs; the desk page passes it too."""
    queue = rotation.queue()
    on_duty = {entry.rep_id for entry in queue}
    return {
        "queue": queue,
        "off_duty": [rep for rep in User.reps() if rep.id not in on_duty],
        "status_labels": rotation.STATUS_LABELS,
        "skip_labels": rotation.SKIP_LABELS,
        "rotation_error": error,
    }


def _answer(error=None):
    """The fresh queue for htmx (422 with the message on error); a plain form goes back to the desk."""
    if is_htmx():
        return render_template("reception/_rotation.html", **rotation_context(error)), 422 if error else 200
    if error:
        flash(str(error), "error")
    return redirect(url_for("reception.desk"), 303)


def _rep(rep_id: int, self_service=False) -> User:
    """The rep acted on; a rep may only act on themselves, and only where self_service allows."""
    if current_user.role == "rep" and not (self_service and rep_id == current_user.id):
        abort(403)
    return User.get_or_none(User.id == rep_id) or abort(404)


def _act(action, rep_id, *args, self_service=False):
    rep = _rep(rep_id, self_service)
    try:
        action(rep, *args, current_user._get_current_object())
    except rotation.RotationError as refused:
        return _answer(refused.message)
    return _answer()


@bp.get("/rotation", endpoint="rotation")
@role_required(*VIEWERS)
def rotation_queue():
    """The queue fragment every tablet polls; the full page is the desk."""
    if not is_htmx():
        return redirect(url_for("reception.desk"))
    return render_template("reception/_rotation.html", **rotation_context())


@bp.post("/rotation/check-in")
@role_required(*VIEWERS)
def rotation_check_in():
    # A rep's own button sends no rep_id: it means themselves.
    rep_id = request.form.get("rep_id", type=int)
    if current_user.role == "rep":
        rep_id = current_user.id if rep_id is None else rep_id
    elif rep_id is None:
        return _answer(_l("Choose the rep to check in."))
    return _act(rotation.check_in, rep_id, self_service=True)


@bp.post("/rotation/<int:rep_id>/check-out")
@role_required(*VIEWERS)
def rotation_check_out(rep_id):
    return _act(rotation.check_out, rep_id, self_service=True)


@bp.post("/rotation/<int:rep_id>/available")
@role_required(*VIEWERS)
def rotation_available(rep_id):
    return _act(rotation.mark_available, rep_id, self_service=True)


@bp.post("/rotation/<int:rep_id>/skip")
@role_required(*DESK)
def rotation_skip(rep_id):
    return _act(rotation.skip, rep_id, request.form.get("reason", ""))


@bp.post("/rotation/<int:rep_id>/assign")
@role_required(*DESK)
def rotation_assign(rep_id):
    """The desk's manual "this rep took a walk-in", for walk-ins not registered through the form."""
    return _act(rotation.assign, rep_id)
