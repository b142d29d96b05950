"""Staff accounts: the list, creating a user, and one user's page (team, role, password, access)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from peewee import JOIN

from villa.auth import role_required
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.models import User
from villa.users import UserProblem, change_user, create_user, reset_password, set_active
from villa.web.admin import bp, section
from villa.web.admin.forms import PasswordResetForm, UserCreateForm, UserEditForm


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
    try:
        changed = set_active(user, change == "enable", _actor())
    except UserProblem as problem:
        return _user_page(user, active_problem=problem.message, status=422)
    if changed and change == "enable":
        flash(_("%(username)s may log in again.", username=user.username), "success")
    elif changed:
        flash(_("%(username)s is disabled and logged out everywhere.", username=user.username), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id), 303)


def _user_page(user, edit_form=None, reset_form=None, active_problem=None, status=200):
    if edit_form is None:
        current = {
            "display_name": user.display_name,
            "role": user.role,
            "manager": user.manager.username if user.manager_id else "",
        }
        edit_form = UserEditForm(formdata=None, data=current)
    reset_form = reset_form or PasswordResetForm(formdata=None)
    page = render_template(
        "admin/user_edit.html",
        user=user,
        edit_form=edit_form,
        reset_form=reset_form,
        active_problem=active_problem,
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
