"""The agency and broker forms. The domain (villa.agencies) checks every value again and says what
is wrong field by field; these forms carry the values and their labels."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Optional

from villa.agencies import NAME_MAX
from villa.fields import options
from villa.i18n import lazy_gettext as _l


class AgencyForm(FlaskForm):
    name = StringField(_l("Agency name"), render_kw={"maxlength": NAME_MAX["agency"]})
    contract_start = DateField(_l("Contract from"), validators=[Optional()])
    contract_end = DateField(_l("Contract until"), validators=[Optional()])


class BrokerForm(FlaskForm):
    agency = SelectField(_l("Agency"), validate_choice=False)
    name = StringField(_l("Broker's name"), render_kw={"maxlength": NAME_MAX["broker"]})
    phone = StringField(_l("Mobile phone"), render_kw={"inputmode": "tel", "autocomplete": "off"})

    def __init__(self, agencies, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.agency.choices = options(
            [("", _l("Choose an agency"))] + [(str(a.id), a.name) for a in agencies]
        )


class BrokerEditForm(BrokerForm):
    phone = StringField(
        _l("New mobile phone"),
        description=_l("Leave empty to keep the number on record."),
        render_kw={"inputmode": "tel", "autocomplete": "off"},
    )
