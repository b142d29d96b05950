from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from villa.materials import NAME_MAX


class MaterialForm(FlaskForm):
    name = StringField(
        _l("Material name"),
        validators=[
            DataRequired(_l("Give the material a name.")),
            Length(max=NAME_MAX, message=_l("At most %(max)d characters.", max=NAME_MAX)),
        ],
    )
    # The type is checked on the file's first bytes (villa.materials), not on its name.
    upload = FileField(_l("File (PDF, PNG or JPEG, at most 10 MB)"))
