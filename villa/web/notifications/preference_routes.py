"""Where my reminders go (account menu): a rep's channels per kind of reminder; a manager's team group."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from villa import settings as office
from villa.auth import role_required
from villa.i18n import gettext as _
from villa.notify.preferences import (
    CHANNEL_LABELS,
    CHANNELS,
    KIND_LABELS,
    PreferenceProblem,
    kinds_for,
    preference_of,
    save_preferences,
    team_robot_key,
)
from villa.web.admin.notifier_forms import RobotForm
from villa.web.notifications import bp
from villa.web.notifications.forms import PreferencesForm

CHOOSERS = ("rep", "manager")


@bp.get("/preferences")
@role_required(*CHOOSERS)
def preferences():
    return _page()


@bp.post("/preferences")
@role_required("rep")
def save():
    form = PreferencesForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        try:
            choices = form.choices(kinds_for(user))
            changed = save_preferences(user, form.email.data, form.wecom_user_id.data, choices)
        except PreferenceProblem as refused:
            form.place(refused.problems)
        else:
            flash(_("Saved: where your reminders go.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("notifications.preferences"), 303)
    return _page(form=form), 422


@bp.post("/team-robot")
@role_required("manager")
def save_team_robot():
    return _save_team_robot(test=False)


@bp.post("/team-robot/test")
@role_required("manager")
def test_team_robot():
    return _save_team_robot(test=True)


def _save_team_robot(test: bool):
    """Keep the team's group robot; with `test`, only once a test message reached the group."""
    form = RobotForm(setting=team_robot_key(current_user))
    if form.validate_on_submit():
        try:
            note = form.test_connection() if test else None
            changes = office.save(form.to_settings(), current_user._get_current_object())
        except office.SettingProblem as refused:
            form.place(refused.problems)
        else:
            saved = _("Saved: your team's group robot.") if changes or note else _("Nothing changed.")
            flash(f"{note} {saved}" if note else saved, "success")
            return redirect(url_for("notifications.preferences"), 303)
    return _page(robot_form=form), 422


def _page(form=None, robot_form=None):
    """The rep's choices and the manager's team group, as this user's role has them."""
    user = current_user._get_current_object()
    kinds = kinds_for(user)
    if kinds and form is None:
        form = PreferencesForm(formdata=None, data=PreferencesForm.initial(preference_of(user.id)))
    if user.role == "manager" and robot_form is None:
        robot_form = RobotForm(formdata=None, setting=team_robot_key(user))
    return render_template(
        "notifications/preferences.html",
        form=form if kinds else None,
        robot_form=robot_form,
        kinds=[(kind, KIND_LABELS[kind]) for kind in kinds],
        channels=[(channel, CHANNEL_LABELS[channel]) for channel in CHANNELS],
        inbox_label=CHANNEL_LABELS["inbox"],
    )
