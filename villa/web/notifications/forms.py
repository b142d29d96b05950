from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField

from villa.i18n import lazy_gettext as _l
from villa.models import NotificationPreference
from villa.notify.preferences import CHANNEL_LABELS, CHANNELS, KIND_ROLES


class PreferencesForm(FlaskForm):
    """The user's addresses, and a box per kind of reminder and channel: `<kind>_<channel>`."""

    email = StringField(_l("Email address"), description=_l("Used only to send you your reminders."))
    wecom_user_id = StringField(
        _l("WeCom account (userid)"), description=_l("Optional: the group robot then @-mentions you.")
    )

    @classmethod
    def initial(cls, preference: NotificationPreference | None) -> dict:
        if preference is None:
            return {}
        chosen = preference.choice_map
        boxes = {f"{kind}_{c}": c in chosen.get(kind, ()) for kind in KIND_ROLES for c in CHANNELS}
        return {"email": preference.email, "wecom_user_id": preference.wecom_user_id, **boxes}

    def choices(self, kinds: list[str]) -> dict[str, list[str]]:
        return {kind: [channel for channel in CHANNELS if self[f"{kind}_{channel}"].data] for kind in kinds}

    def place(self, problems: dict):
        for field, message in problems.items():
            self[field].errors.append(message)


for _kind in KIND_ROLES:
    for _channel in CHANNELS:
        setattr(PreferencesForm, f"{_kind}_{_channel}", BooleanField(CHANNEL_LABELS[_channel]))
