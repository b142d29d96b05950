"""Translations are trusted text; the values put into them are not: every interpolated value is
escaped when a template shows the message, whichever way the message was translated."""

import pytest
from flask import render_template_string
from markupsafe import Markup

from villa.i18n import force_locale, gettext, lazy_gettext, ngettext

HOSTILE = "<i hx-post=/logout hx-trigger=load>"
ESCAPED = "&lt;i hx-post=/logout hx-trigger=load&gt;"
MESSAGE = "%(name)s is not on duty today."


@pytest.fixture
def request_context(app):
    with app.test_request_context("/"):
        yield


@pytest.mark.parametrize("locale", ["zh_Hans", "en"])
def test_lazy_message_escapes_its_values_in_a_template(request_context, locale):
    with force_locale(locale):
        shown = render_template_string("<p>{{ message }}</p>", message=lazy_gettext(MESSAGE, name=HOSTILE))
        assert HOSTILE not in shown
        assert ESCAPED in shown
        # As plain text (a flash message, a command's output) the value is what was typed.
        assert HOSTILE in str(lazy_gettext(MESSAGE, name=HOSTILE))


def test_lazy_message_keeps_its_own_text_and_formats(request_context):
    with force_locale("zh_Hans"):
        message = lazy_gettext(MESSAGE, name="王五")
        assert render_template_string("{{ m }}", m=message) == "王五今天不在岗。"
        assert str(message) == "王五今天不在岗。"
        assert render_template_string("{{ m }}", m=lazy_gettext("Save")) == str(lazy_gettext("Save"))


def test_lazy_message_as_markup_is_escaped(request_context):
    assert ESCAPED in Markup("{}").format(lazy_gettext(MESSAGE, name=HOSTILE))
    assert ESCAPED in Markup("<p>%s</p>") % lazy_gettext(MESSAGE, name=HOSTILE)


def test_every_gettext_with_values_shown_by_a_template_is_escaped(request_context):
    shown = render_template_string(
        "{{ _(m, name=n) }}|{{ gettext(m, name=n) }}|{{ ngettext(m, m, 2, name=n) }}"
        "|{{ eager }}|{{ plural }}",
        m=MESSAGE,
        n=HOSTILE,
        eager=gettext(MESSAGE, name=HOSTILE),
        plural=ngettext(MESSAGE, MESSAGE, 2, name=HOSTILE),
    )
    assert HOSTILE not in shown
    assert shown.count(ESCAPED) == 5
