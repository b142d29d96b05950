"""The 报备 form; villa.reports checks the values (its messages land at the fields)."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired

from villa.fields import options
from villa.i18n import lazy_gettext as _l


class ReportForm(FlaskForm):
    customer_name = StringField(_l("Customer's name (at least the surname)"))
    phone = StringField(_l("Phone (full, or as 138****8000)"))
    expected_visit = StringField(_l("Expected visit"))


class OnBehalfForm(ReportForm):
    """Channel staff record a 报备 a broker sent by phone or message."""

    broker = SelectField(_l("Broker"), coerce=int, validators=[DataRequired(_l("Choose the broker."))])

    def __init__(self, *args, brokers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.brokers = list(brokers)
        self.broker.choices = options((b.id, f"{b.agency.name} · {b.name}") for b in self.brokers)

    def chosen_broker(self):
        return next((b for b in self.brokers if b.id == self.broker.data), None)
