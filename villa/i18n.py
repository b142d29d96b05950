"""Translations looked up once per request, not once per string.

Flask-Babel finds the request's domain, locale and catalogue again for every string it translates,
and Flask-WTF reads WTForms' own catalogue from disk on every request that shows a form; a client
page translates about 180 strings. The catalogues do not change while the server runs, so
each is loaded once per locale and each request keeps the one it uses.
"""

from contextlib import contextmanager
from functools import lru_cache

import flask_babel
from babel import support
from flask import g, request
from flask_babel import get_locale, get_translations
from flask_babel.speaklater import LazyString
from wtforms.i18n import messages_path


def translations():
    """This request's catalogue: Flask-Babel's, for the user's locale or the one `force_locale` sets."""
    if not g:  # no app context (a command): Flask-Babel answers with the untranslated strings
        return get_translations()
    found = g.get("_villa_translations")
    if found is None:
        found = g._villa_translations = get_translations()
    return found


@contextmanager
def force_locale(locale: str):
    """Flask-Babel's force_locale, also for the catalogue this module keeps for the request."""
    kept = g.pop("_villa_translations", None) if g else None
    try:
        with flask_babel.force_locale(locale):
            yield
    finally:
        if g:
            g.pop("_villa_translations", None)
            if kept is not None:
                g._villa_translations = kept


def gettext(string, **variables):
    """Flask-Babel's gettext: the translation, with %(name)s filled in from `variables`."""
    translated = translations().ugettext(string)
    return translated % variables if variables else translated


def ngettext(singular, plural, num, **variables):
    variables.setdefault("num", num)
    return translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string, **variables):
    """A string translated when it is shown, in the language of the request showing it."""
    return LazyString(gettext, string, **variables)


def _template_ngettext(singular, plural, num):
    # Unformatted: Jinja's newstyle ngettext fills in %(num)s and the other variables itself.
    return translations().ungettext(singular, plural, num)


@lru_cache(maxsize=8)
def _wtforms_catalogue(locale: str):
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


def _wtforms_translations():
    # Flask-WTF uses request.wtforms_translations when it is set, and loads the file otherwise.
    if request.endpoint not in ("static", "health.healthz"):
        request.wtforms_translations = _wtforms_catalogue(str(get_locale()))


def init_app(app):
    """Templates translate through this module (after Flask-Babel installed its own)."""
    # newstyle: Jinja calls gettext with the string alone, fills in %(name)s itself and escapes the
    # values, as with Flask-Babel's.
    app.jinja_env.install_gettext_callables(gettext=gettext, ngettext=_template_ngettext, newstyle=True)
    app.before_request(_wtforms_translations)
