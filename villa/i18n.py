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
from jinja2 import pass_eval_context
from markupsafe import Markup
from wtforms.i18n import messages_path


def translations():
    """This request's catalogue: Flask-Babel's, for the user's locale or the one `force_locale` sets."""
    # A page calls this for every string: one read of flask.g in the usual case.
    try:
        return g._villa_translations
    except AttributeError:  # the request's first string
        found = g._villa_translations = get_translations()
        return found
    except RuntimeError:  # no app context (a command): Flask-Babel answers with untranslated strings
        return get_translations()


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


class LazyText(LazyString):
    """A string translated when it is shown, in the language of the request showing it.

    Flask-Babel's LazyString gives templates the finished string as markup, values and all: a
    display name or a spreadsheet cell would then be HTML (and htmx acts on its attributes). Here
    the translation is trusted and every value put into it is escaped."""

    def __init__(self, msgid: str, **variables):
        super().__init__(gettext, msgid, **variables)
        self.msgid = msgid
        self.variables = variables

    def __html__(self) -> Markup:
        translated = Markup(translations().ugettext(self.msgid))
        return translated % self.variables if self.variables else translated


def lazy_gettext(string, **variables) -> LazyText:
    return LazyText(string, **variables)


# In templates, `_()` went through three layers (Jinja's alias, its newstyle wrapper, our gettext),
# each a Context.call that inspects the callee: a few microseconds a string, 180 strings a client
# page. These do what the newstyle wrapper does, in one call: mark the translation safe when the
# template autoescapes, and always format it, so %(name)s is filled in with escaped values and %%
# means % whether or not a string has variables.
@pass_eval_context
def _template_gettext(eval_context, string, **variables):
    translated = translations().ugettext(string)
    if eval_context.autoescape:
        translated = Markup(translated)
    # Most strings have neither variables nor %%: formatting them would only copy them.
    return translated % variables if variables or "%" in translated else translated


@pass_eval_context
def _template_ngettext(eval_context, singular, plural, num, **variables):
    translated = translations().ungettext(singular, plural, num)
    if eval_context.autoescape:
        translated = Markup(translated)
    variables.setdefault("num", num)
    return translated % variables


@lru_cache(maxsize=8)
def _wtforms_catalogue(locale: str):
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


def _wtforms_translations():
    # Flask-WTF uses request.wtforms_translations when it is set, and loads the file otherwise.
    if request.endpoint not in ("static", "health.healthz"):
        request.wtforms_translations = _wtforms_catalogue(str(get_locale()))


def init_app(app):
    """Templates translate through this module (after Flask-Babel installed its own)."""
    # Flask-Babel installed Jinja's i18n extension, newstyle ({% trans %} passes its variables to
    # gettext to fill in); `_`, gettext and ngettext are replaced by ours, called directly.
    app.jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)
    app.before_request(_wtforms_translations)
