"""The follow-up form: how the rep reached the customer, what was said, what comes next."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from villa.fields import options
from villa.followups import CONTENT_MAX, RESULT_MAX
from villa.i18n import lazy_gettext as _l
from villa.labels import FOLLOWUP_KIND_LABELS
from villa.models import GRADES, Customer, FollowUp, office_today


class FollowUpForm(FlaskForm):
    # Ids carry a prefix: the client page holds other forms with fields named grade or content.
    kind = RadioField(
        _l("Contact by"),
        id="followup-kind",
        choices=options(FOLLOWUP_KIND_LABELS.items()),
        default="call",
        validators=[InputRequired(_l("Choose how you contacted the customer."))],
    )
    reached = BooleanField(_l("Reached the customer"), id="followup-reached")
    content = TextAreaField(
        _l("What was said or done"),
        id="followup-content",
        validators=[DataRequired(_l("Write what was said or done.")), Length(max=CONTENT_MAX)],
    )
    result = StringField(_l("Result"), id="followup-result", validators=[Length(max=RESULT_MAX)])
    next_at = DateField(
        _l("Next follow-up"), id="followup-next_at", format="%Y-%m-%d", validators=[Optional()]
    )
    grade = SelectField(
        _l("Intent grade"),
        id="followup-grade",
        choices=options([("", _l("Unchanged")), *((g, g) for g in GRADES)]),
        default="",
    )
    corrects = HiddenField(id="followup-corrects", validators=[Optional()])

    def __init__(self, *args, customer: Customer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.corrected_entry = None
        self.next_at.render_kw = {"min": office_today().isoformat()}

    @classmethod
    def correcting(cls, customer: Customer, entry: FollowUp) -> "FollowUpForm":
        """A form that corrects `entry`, starting from what it said."""
        form = cls(formdata=None, customer=customer)
        form.kind.data, form.reached.data = entry.kind, entry.reached
        form.content.data, form.result.data = entry.content, entry.result
        if entry.next_at and entry.next_at >= office_today():
            form.next_at.data = entry.next_at
        form.corrects.data, form.corrected_entry = str(entry.id), entry
        return form

    def validate_next_at(self, field):
        if field.data and field.data < office_today():
            raise ValidationError(_l("The next follow-up cannot be in the past."))

    def validate_corrects(self, field):
        value = (field.data or "").strip()
        if not value:
            return
        entry = None
        if value.isdigit() and self.customer is not None:
            entry = FollowUp.get_or_none(FollowUp.id == int(value), FollowUp.customer == self.customer.id)
        if entry is None:
            raise ValidationError(_l("Only an entry of this customer can be corrected."))
        self.corrected_entry = entry

    def entry(self) -> dict:
        """The validated fields as add_followup's arguments."""
        return {
            "kind": self.kind.data,
            "content": self.content.data,
            "reached": self.reached.data,
            "result": self.result.data or "",
            "next_at": self.next_at.data,
            "grade": self.grade.data or None,
            "corrects": self.corrected_entry,
        }
