from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user

from villa.auth import (
    LoginRefused,
    authenticate,
    check_password,
    end_session,
    login_required,
    password_problem,
    safe_next,
    set_password,
)
from villa.i18n import gettext as _
from villa.models import AuditLog
from villa.web.account import bp
from villa.web.account.forms import LoginForm, PasswordForm


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm(next=request.args.get("next", ""))
    status = 200
    if session.pop("idle_logout", False):
        flash(
            _(
                "You were logged out after %(minutes)d idle minutes.",
                minutes=current_app.config["IDLE_TIMEOUT_MINUTES"],
            ),
            "info",
        )
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data, request.remote_addr or "")
        except LoginRefused as refused:
            form.password.errors.append(refused.message)
            status = refused.status
        else:
            # A fresh session on login: nothing from before the login survives (fixation).
            lang = session.get("lang")
            session.clear()
            if lang:
                session["lang"] = lang
            login_user(user)
            AuditLog.create(actor=user, action="login", target=f"user:{user.id}")
            return redirect(safe_next(form.next.data) or url_for("home.index"), 303)
    elif request.method == "POST":
        status = 422
    return render_template("account/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    AuditLog.create(actor=current_user.id, action="logout", target=f"user:{current_user.id}")
    end_session(current_user._get_current_object())
    flash(_("You have logged out."), "info")
    return redirect(url_for("account.login"), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        problem = password_problem(user, user.username, form.new.data)
        if not check_password(user, form.current.data):
            form.current.errors.append(_("The current password is wrong."))
        elif problem:
            form.new.errors.append(problem)
        else:
            set_password(user, form.new.data, must_change=False)
            AuditLog.create(actor=user, action="password_changed", target=f"user:{user.id}")
            login_user(user)  # the new session version: other copies of the old cookie stop working
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("home.index"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("account/password.html", form=form), status


@bp.get("/lang/<code>")
def switch_language(code):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
