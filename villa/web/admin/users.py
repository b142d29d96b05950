"""Staff accounts: the list, creating a user, and one user's page (team, role, password, access)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from peewee import JOIN

from villa.auth import role_required
from villa.handover import HandoverRefused, customer_count, rep_leaves, team_of
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.models import User
from villa.users import UserProblem, change_user, create_user, reset_password, set_active
from villa.web.admin import bp, section
from villa.web.admin.forms import HandoverForm, PasswordResetForm, UserCreateForm, UserEditForm


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = create_user(
                form.username.data,
                form.role.data,
                form.display_name.data,
                form.manager.data or None,
                form.password.data,
                must_change=True,
                actor=current_user._get_current_object(),
            )
        except UserProblem as problem:
            form[problem.field or "username"].errors.append(problem.message)
        else:
            flash(
                _(
                    "User created: %(username)s. They choose their own password at the first login.",
                    username=user.username,
                ),
                "success",
            )
            return redirect(url_for("admin.users"), 303)
    status = 422 if request.method == "POST" else 200
    manager = User.alias()
    people = (
        User.select(User, manager)
        .join(manager, JOIN.LEFT_OUTER, on=(User.manager == manager.id), attr="manager")
        .order_by(User.active.desc(), User.role, User.username)
    )
    return render_template("admin/users.html", users=people, form=form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_user(user_id):
    user = _user_or_404(user_id)
    form = UserEditForm()
    if form.validate_on_submit():
        manager = User.by_username(form.manager.data) if form.manager.data else None
        try:
            changes = change_user(user, _actor(), form.display_name.data, form.role.data, manager)
        except UserProblem as problem:
            form[problem.field].errors.append(problem.message)
        else:
            if changes:
                flash(_("Saved the changes to %(username)s.", username=user.username), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id), 303)
    if request.method == "GET":
        return _user_page(user)
    return _user_page(user, edit_form=form, status=422)


@bp.post("/users/<int:user_id>/password")
@role_required("admin")
def reset_user_password(user_id):
    user = _user_or_404(user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            reset_password(user, form.password.data, _actor())
        except UserProblem as problem:
            form.password.errors.append(problem.message)
        else:
            flash(
                _(
                    "Password reset: %(username)s must choose a new one at the next login.",
                    username=user.username,
                ),
                "success",
            )
            return redirect(url_for("admin.edit_user", user_id=user.id), 303)
    return _user_page(user, reset_form=form, status=422)


@bp.post("/users/<int:user_id>/<any(disable, enable):change>")
@role_required("admin")
def set_user_active(user_id, change):
    user = _user_or_404(user_id)
    if change == "disable" and user.role == "rep" and customer_count(user):
        # Their customers must not stay on a disabled account: the handover form says where they go.
        return _user_page(user, handover_form=_handover_form(user, request.form), status=422)
    try:
        changed = set_active(user, change == "enable", _actor())
    except UserProblem as problem:
        return _user_page(user, active_problem=problem.message, status=422)
    if changed and change == "enable":
        flash(_("%(username)s may log in again.", username=user.username), "success")
    elif changed:
        flash(_("%(username)s is disabled and logged out everywhere.", username=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id), 303)


@bp.post("/users/<int:user_id>/handover")
@role_required("admin")
def hand_over(user_id):
    """Disable a rep (if still enabled) and move their customers where the admin chose, in one step."""
    user = _user_or_404(user_id)
    if user.role != "rep":
        abort(404)
    form = _handover_form(user, request.form)
    if form.validate_on_submit():
        chosen = form.to_rep.data or ""
        to_rep = User.get_or_none(User.id == int(chosen)) if chosen.isdigit() else None
        try:
            moved = rep_leaves(user, _actor(), form.destination.data, to_rep)
        except HandoverRefused as refused:
            form[refused.field].errors = [refused.message]
        else:
            flash(
                _(
                    "%(username)s is disabled; %(count)d customers were handed over.",
                    username=user.username,
                    count=moved.count,
                ),
                "success",
            )
            return redirect(url_for("admin.edit_user", user_id=user.id), 303)
    return _user_page(user, handover_form=form, status=422)


def _handover_form(user, formdata=None) -> HandoverForm:
    form = HandoverForm(user, formdata=formdata)
    if formdata is not None and request.endpoint == "admin.set_user_active":
        form.destination.errors = [_("Choose where their customers go before the account is disabled.")]
    return form


def _user_page(user, edit_form=None, reset_form=None, active_problem=None, status=200, handover_form=None):
    if edit_form is None:
        current = {
            "display_name": user.display_name,
            "role": user.role,
            "manager": user.manager.username if user.manager_id else "",
        }
        edit_form = UserEditForm(formdata=None, data=current)
    reset_form = reset_form or PasswordResetForm(formdata=None)
    handover = None
    if user.role == "rep":
        count = customer_count(user)
        if count or handover_form is not None:
            form = handover_form or HandoverForm(user, formdata=None)
            handover = {"count": count, "team": team_of(user), "form": form}
    page = render_template(
        "admin/user_edit.html",
        user=user,
        edit_form=edit_form,
        reset_form=reset_form,
        active_problem=active_problem,
        handover=handover,
        is_self=user.id == current_user.id,
    )
    return page, status


def _user_or_404(user_id: int) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        abort(404)
    return user


def _actor() -> User:
    return current_user._get_current_object()


section("admin.users", _l("Users"), _l("Staff accounts, roles and teams."))
