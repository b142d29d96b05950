"""Office settings (a page per section, each with its own save) and the source channels."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from peewee import fn

from villa import settings as office
from villa.auth import role_required
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.models import Channel, Customer
from villa.web.admin import bp, section
from villa.web.admin.forms import (
    CHANNEL_KIND_LABELS,
    AlertsForm,
    BackupsForm,
    ChannelEditForm,
    ChannelForm,
    CorrectionsForm,
    EligibilityForm,
    IncidentNoticeForm,
    KeepingForm,
    LookupsForm,
    MaskingForm,
    MessagesForm,
    OwnershipForm,
    PrivacyNoticeForm,
    ProtectionPolicyForm,
    QuestionOptionsForm,
    RejectionReasonsForm,
    ReviewChecklistForm,
)
from villa.web.admin.notifier_forms import EmailForm, RobotForm

# name in the URL -> (form, title, what it decides)
SECTIONS = {
    "ownership": (OwnershipForm, _l("Ownership"), _l("How long a rep keeps a customer, and the pool quota.")),
    "protection": (
        ProtectionPolicyForm,
        _l("Protection policy"),
        _l("What a reached follow-up renews, the longest protection, the cap per rep, the pool cooldown."),
    ),
    "eligibility": (EligibilityForm, _l("Purchase eligibility"), _l("The city's rule, as numbers.")),
    "reasons": (RejectionReasonsForm, _l("Rejection reasons"), _l("What reviewers pick from.")),
    "checklist": (ReviewChecklistForm, _l("Review checklist"), _l("What reviewers check.")),
    "questions": (
        QuestionOptionsForm,
        _l("Questions about the customer"),
        _l(
            "The options offered for where the customer lives and works, occupation, family, homes bought "
            "before, what matters to them and what holds them back."
        ),
    ),  # fmt: skip
    "messages": (MessagesForm, _l("Messages to customers"), _l("Sent after a review.")),
    "privacy": (PrivacyNoticeForm, _l("Privacy notice"), _l("What the customer agrees to.")),
    "corrections": (CorrectionsForm, _l("Correction links"), _l("Links customers use to fix their data.")),
    "keeping": (KeepingForm, _l("Retention"), _l("How long customer data is kept.")),
    "backups": (
        BackupsForm,
        _l("Backups"),
        _l("Which backups are kept, the second copy, the age warning and the weekly restore test."),
    ),
    "masking": (
        MaskingForm,
        _l("Masked numbers"),
        _l("How much of a number people see who may not see it in full."),
    ),
    "lookups": (
        LookupsForm,
        _l("Exact lookups"),
        _l("How many complete phone or ID numbers one user may look up."),
    ),
    "alerts": (AlertsForm, _l("Alerts for the audit team"), _l("When one user's day looks unusual.")),
    "incidents": (
        IncidentNoticeForm,
        _l("Incident notice"),
        _l("What customers are told when their data may have leaked."),
    ),
    "email": (EmailForm, _l("Staff notifications by email"), _l("The mail server reminders go out through.")),
    "wecom": (
        RobotForm,
        _l("Staff notifications to a WeCom group"),
        _l("The office's group robot; a manager may set their own team's group."),
    ),
}
# Sections that can send a test message ("Test and save").
TESTABLE = [name for name, (form_class, *_) in SECTIONS.items() if hasattr(form_class, "test_connection")]


@bp.get("/settings")
@role_required("admin")
def settings():
    """The sections of the settings, each a page of its own with its own save."""
    return render_template("admin/settings.html", nav=_nav(), current=None)


@bp.get(f"/settings/<any({', '.join(SECTIONS)}):name>")
@role_required("admin")
def settings_section(name):
    form_class = SECTIONS[name][0]
    return _section_page(name, form_class(formdata=None, data=form_class.initial(office.read)))


@bp.post(f"/settings/<any({', '.join(SECTIONS)}):name>")
@role_required("admin")
def save_settings(name):
    return _save_section(name, test=False)


@bp.post(f"/settings/<any({', '.join(TESTABLE)}):name>/test")
@role_required("admin")
def test_settings(name):
    """Send a test message with the values typed; when it went out, save them."""
    return _save_section(name, test=True)


def _save_section(name: str, test: bool):
    form = SECTIONS[name][0]()
    if form.validate_on_submit():
        try:
            note = form.test_connection() if test else None
            changes = office.save(form.to_settings(), current_user._get_current_object())
        except office.SettingProblem as refused:
            form.place(refused.problems)
        else:
            section = SECTIONS[name][1]
            if note:
                flash(_("%(note)s Saved: %(section)s.", note=note, section=section), "success")
            elif changes:
                flash(_("Saved: %(section)s.", section=section), "success")
            else:
                flash(_("Nothing changed: %(section)s.", section=section))
            return redirect(url_for("admin.settings_section", name=name), 303)
    return _section_page(name, form), 422


def _section_page(name: str, form):
    _form_class, title, purpose = SECTIONS[name]
    return render_template(
        "admin/settings.html", nav=_nav(), current=name, title=title, purpose=purpose, form=form
    )


def _nav() -> list:
    """(name, title, what it decides, url) of every section, the channels page last."""
    nav = [
        (name, title, purpose, url_for("admin.settings_section", name=name))
        for name, (_form_class, title, purpose) in SECTIONS.items()
    ]
    nav.append(
        ("channels", _("Source channels"), _("The channels the desk picks from."), url_for("admin.channels"))
    )
    return nav


@bp.route("/settings/channels", methods=["GET", "POST"])
@role_required("admin")
def channels():
    form = ChannelForm()
    if form.validate_on_submit():
        try:
            channel = office.add_channel(
                form.code.data, form.name.data, form.kind.data, form.protection_days.data, _actor()
            )
        except office.SettingProblem as refused:
            _place(form, refused.problems)
        else:
            flash(_("Channel added: %(name)s", name=channel.name), "success")
            return redirect(url_for("admin.channels"), 303)
    status = 422 if request.method == "POST" else 200
    return _channels_page(form), status


@bp.route("/settings/channels/<int:channel_id>", methods=["GET", "POST"])
@role_required("admin")
def edit_channel(channel_id):
    channel = _channel_or_404(channel_id)
    form = ChannelEditForm(obj=channel) if request.method == "GET" else ChannelEditForm()
    if form.validate_on_submit():
        try:
            office.change_channel(
                channel, form.name.data, form.kind.data, form.protection_days.data, _actor()
            )
        except office.SettingProblem as refused:
            _place(form, refused.problems)
        else:
            flash(_("Channel saved: %(name)s", name=channel.name), "success")
            return redirect(url_for("admin.channels"), 303)
    status = 422 if request.method == "POST" else 200
    return _channels_page(ChannelForm(formdata=None), editing=channel, edit_form=form), status


@bp.post("/settings/channels/<int:channel_id>/<any(deactivate, reactivate):change>")
@role_required("admin")
def set_channel_active(channel_id, change):
    channel = _channel_or_404(channel_id)
    if office.set_channel_active(channel, change == "reactivate", _actor()):
        if channel.active:
            flash(_("Channel back on the desk's list: %(name)s", name=channel.name), "success")
        else:
            flash(_("Channel taken off the desk's list: %(name)s", name=channel.name), "success")
    return redirect(url_for("admin.channels"), 303)


def _channels_page(form, editing=None, edit_form=None):
    used = dict(Customer.select(Customer.channel, fn.COUNT(Customer.id)).group_by(Customer.channel).tuples())
    listed = Channel.select().order_by(Channel.active.desc(), Channel.sort_order, Channel.id)
    return render_template(
        "admin/channels.html",
        channels=listed,
        used=used,
        kinds=CHANNEL_KIND_LABELS,
        form=form,
        editing=editing,
        edit_form=edit_form,
    )


def _place(form, problems):
    for field, message in problems.items():
        form[field].errors.append(message)


def _channel_or_404(channel_id: int) -> Channel:
    channel = Channel.get_or_none(Channel.id == channel_id)
    if channel is None:
        abort(404)
    return channel


def _actor():
    return current_user._get_current_object()


section(
    "admin.settings",
    _l("Settings"),
    _l("Protection periods, pool quota, review, messages, privacy notice, channels, staff notifications."),
)
