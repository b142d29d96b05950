"""Forms of the review queue: the decision on one row, the batch approval, the queue's filters."""

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Optional

from villa.fields import options
from villa.i18n import lazy_gettext as _l
from villa.models import Channel, Setting, User
from villa.ownership import reassignable_reps
from villa.review import QueueFilters


class DecisionForm(FlaskForm):
    # The level the queue showed the row at: a record that has moved on since is a stale page (409).
    level = IntegerField(validators=[Optional()])


class RejectForm(DecisionForm):
    reason = SelectField(_l("Reason"), validate_choice=False)
    note = StringField(_l("Details"), render_kw={"maxlength": 300})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        reasons = Setting.read("rejection_reasons", []) or []
        self.reason.choices = options([("", _l("Choose a reason"))] + [(r, r) for r in reasons])

    @property
    def full_reason(self) -> str:
        """The chosen reason with the reviewer's details; either alone when only one is given."""
        parts = [(self.reason.data or "").strip(), (self.note.data or "").strip()]
        return "：".join(part for part in parts if part)


class BatchForm(FlaskForm):
    ids = SelectMultipleField(coerce=int, validate_choice=False)


class QueueFilterForm(FlaskForm):
    """A GET form: filters in the URL, so no CSRF token."""

    class Meta:
        csrf = False

    rep = SelectField(_l("Sales rep"), validate_choice=False, validators=[Optional()])
    channel = SelectField(_l("Channel"), validate_choice=False, validators=[Optional()])
    registered_from = DateField(_l("Registered from"), validators=[Optional()])
    registered_to = DateField(_l("Registered until"), validators=[Optional()])

    def __init__(self, reviewer: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        reps = reassignable_reps(reviewer) if reviewer.role == "manager" else User.rep_names()
        self.rep.choices = options([("", _l("All reps"))] + [(str(r.id), r.display_name) for r in reps])
        self.channel.choices = options(
            [("", _l("All channels"))] + [(c.code, c.name) for c in Channel.active_list()]
        )

    def filters(self) -> QueueFilters:
        """What was asked for; a value that does not parse is left out."""
        rep = self.rep.data or ""
        return QueueFilters(
            rep=int(rep) if rep.isdigit() else None,
            channel=(self.channel.data or "")[:30],
            registered_from=self.registered_from.data,
            registered_to=self.registered_to.data,
        )
