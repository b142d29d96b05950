from datetime import UTC

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from villa.clock import OFFICE_TZ
from villa.fields import options
from villa.i18n import lazy_gettext as _l
from villa.labels import office_time
from villa.models import User

WHEN_FORMAT = "%Y-%m-%dT%H:%M"


def stored(moment):
    """A time typed on the office's clock, as stored: naive UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=OFFICE_TZ).astimezone(UTC).replace(tzinfo=None)


def shown(moment):
    """A stored time as the form shows it: the office's clock, naive."""
    return office_time(moment).replace(tzinfo=None) if moment else None


def _when(label, required=True):
    check = InputRequired(_l("Enter a date and time.")) if required else Optional()
    return DateTimeLocalField(label, format=WHEN_FORMAT, validators=[check])


class IncidentForm(FlaskForm):
    what = TextAreaField(
        _l("What happened"),
        validators=[DataRequired(_l("Describe what happened.")), Length(max=2000)],
        render_kw={"rows": 4},
    )
    found_at = _when(_l("When it was found (office time)"))
    suspected_scope = TextAreaField(
        _l("Suspected scope"),
        description=_l("Whose data, which fields, since when: as far as known now."),
        validators=[Length(max=2000)],
        render_kw={"rows": 3},
    )


class GatherForm(FlaskForm):
    user = SelectField(_l("Whose access"), coerce=int, validate_choice=True)
    start = _when(_l("From (office time)"))
    end = _when(_l("Until (office time)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        staff = User.select().order_by(User.active.desc(), User.username)
        self.user.choices = options((u.id, f"{u.display_name} ({u.username})") for u in staff)


class PhoneListForm(FlaskForm):
    phones = FileField(
        _l("List of phone numbers"),
        description=_l("A text or CSV file, one phone number a line. The list itself is not kept."),
    )


class NoticeForm(FlaskForm):
    message_template = TextAreaField(
        _l("Notice to each affected customer"),
        description=_l("{name} is the customer's name. At most 280 characters."),
        render_kw={"rows": 4},
    )


class RecordForm(FlaskForm):
    measures = TextAreaField(_l("Measures taken"), validators=[Length(max=5000)], render_kw={"rows": 4})
    reported_at = _when(_l("Reported to the authority on (office time)"), required=False)
    reported_to = StringField(_l("Reported to"), validators=[Length(max=200)])
    responsible = StringField(
        _l("Held responsible"),
        description=_l("Who, and what followed (warning, training, dismissal)."),
        validators=[Length(max=200)],
    )


class CloseForm(FlaskForm):
    """Closing an incident: the CSRF token only."""
