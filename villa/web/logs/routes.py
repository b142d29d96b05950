"""The logs on the web, for the audit team and admins: read-only (GET only, by design)."""

from flask import render_template, request
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from villa import describe, logs
from villa.auth import is_htmx, role_required
from villa.i18n import lazy_gettext as _l
from villa.models import User
from villa.web.logs import bp

READERS = ("auditor", "admin")
TAB_LABELS = {
    "access": _l("Access log: reveals, lookups and exports"),
    "audit": _l("Audit log: changes"),
    "alerts": _l("Alerts for the audit team"),
}


class LogFilterForm(FlaskForm):
    """The filters of a log page, read from the query string."""

    class Meta:
        csrf = False

    tab = HiddenField(default="access")
    user = SelectField(_l("User"), coerce=int, default=0, validate_choice=True)
    customer = IntegerField(
        _l("Customer number"), validators=[Optional(), NumberRange(min=1, max=logs.MAX_ID)]
    )
    action = SelectField(_l("Action"), default="", validate_choice=True)
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])

    def to_filter(self) -> logs.LogFilter:
        """The filters that are valid; a bad one is shown with its message and ignored."""

        def good(field):
            return None if field.errors else field.data

        return logs.LogFilter(
            user_id=good(self.user) or None,
            customer_id=good(self.customer),
            action=good(self.action) or "",
            date_from=good(self.date_from),
            date_to=good(self.date_to),
        )


@bp.get("/")
@role_required(*READERS)
def index():
    tab = request.args.get("tab") if request.args.get("tab") in logs.LOGS else "access"
    form = LogFilterForm(formdata=request.args)
    form.tab.data = tab
    # The three columns the choice shows, as tuples: a group's hundreds of accounts cost no model rows.
    people = list(User.select(User.id, User.display_name, User.username).order_by(User.username).tuples())
    form.user.choices = [(0, _l("Anyone"))] + [(id_, f"{name} ({login})") for id_, name, login in people]
    form.action.choices = [("", _l("Any"))] + [(a, describe.title(a)) for a in logs.actions(tab)]
    if request.args:
        form.validate()
    entries, next_before = logs.log_page(tab, form.to_filter(), request.args.get("before", type=int))
    template = "logs/_results.html" if is_htmx() else "logs/index.html"
    response = render_template(
        template,
        tab=tab,
        tabs=TAB_LABELS,
        form=form,
        entries=entries,
        next_before=next_before,
        args={k: v for k, v in request.args.items() if k != "before" and v},
        action_label=describe.title,
        described=describe.describe_page(entries, describe.Names(people)),
    )
    return response, 200, {"Vary": "HX-Request"}
