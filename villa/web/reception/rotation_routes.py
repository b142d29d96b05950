"""The walk-in rotation at the desk (routes under /reception/rotation)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from villa import rotation
from villa.auth import is_htmx, role_required
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.models import User
from villa.rotation_skips import skip_report
from villa.web.reception import bp
from villa.web.reception.forms import OutOfTurnForm, SkipReportForm

VIEWERS = ("reception", "rep", "manager")
DESK = ("reception", "manager")


def rotation_context(error=None) -> dict:
    """What templates/reception/_rotation.html needs; the desk page passes it too."""
    queue = rotation.queue()
    # Checked out a moment ago: their row stays in its place and offers 撤销 instead of vanishing.
    just_checked_out = rotation.just_checked_out()
    on_duty = {entry.rep_id for entry in queue + just_checked_out}
    return {
        "queue": queue,
        "rows": sorted(queue + just_checked_out, key=lambda entry: entry.position),
        "walk_ins": rotation.walk_ins_today(queue),
        "off_duty": [rep for rep in User.rep_names() if rep.id not in on_duty],
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


@bp.post("/rotation/<int:rep_id>/undo-check-out")
@role_required(*VIEWERS)
def rotation_undo_check_out(rep_id):
    return _act(rotation.undo_check_out, rep_id, self_service=True)


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
    """The desk's manual "this rep took a walk-in", for walk-ins not registered through the form;
    out of turn it needs a reason (the out-of-turn page)."""
    return _act(rotation.took_walk_in, rep_id)


@bp.route("/rotation/<int:rep_id>/out-of-turn", methods=["GET", "POST"])
@role_required(*DESK)
def rotation_out_of_turn(rep_id):
    """Give a walk-in (not registered through the form) to a rep whose turn it is not, with the reason."""
    rep = _rep(rep_id)
    form = OutOfTurnForm()
    if form.validate_on_submit():
        try:
            rotation.took_walk_in(
                rep, current_user._get_current_object(), form.skip_reason.data, form.skip_note.data
            )
        except rotation.RotationError as refused:
            (form[refused.field] if refused.field else form.skip_reason).errors.append(refused.message)
        else:
            flash(_("Walk-in given to %(name)s out of turn.", name=rep.display_name), "success")
            return redirect(url_for("reception.desk"), 303)
    status = 422 if request.method == "POST" else 200
    page = render_template("reception/out_of_turn.html", rep=rep, form=form, next_rep=rotation.next_rep())
    return page, status


@bp.get("/rotation/skips")
@role_required("manager")
def rotation_skips():
    """The skip report: walk-ins given out of turn, by day, by rep, by reason."""
    form = SkipReportForm(request.args, meta={"csrf": False})
    start, end = (form.start.data, form.end.data) if form.validate() else (None, None)
    report = skip_report(start, end)
    return render_template(
        "reception/skips.html", report=report, form=form, reasons=rotation.OUT_OF_TURN_LABELS
    )
