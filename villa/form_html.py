"""WTForms' `html_params`, with the same output in a fifth of the time.

Every form field WTForms renders, and every option of a select, writes its attributes through
`wtforms.widgets.core.html_params`, which formats each attribute with `Markup.format` (a
`string.Formatter` that escapes as it goes): about 5 µs an attribute, 0.5 ms of a client page with
its follow-up and stage forms. This one escapes with `markupsafe.escape` and joins plain strings.
`install()` puts it where WTForms looks it up; tests/test_form_html.py compares it with the
original on every kind of value.
"""

import wtforms.widgets
import wtforms.widgets.core
from markupsafe import Markup, escape
from wtforms.widgets.core import clean_key

wtforms_html_params = wtforms.widgets.core.html_params  # kept for the comparison test


def html_params(**kwargs) -> Markup:
    """`key="value"` pairs sorted by key; True writes the bare key, False leaves it out."""
    params = []
    for key, value in sorted(kwargs.items()):
        key = clean_key(key)
        if value is True:
            params.append(str(escape(key)))
        elif value is not False:
            # escape() leaves a value with __html__ as it is: its quotes must still be closed off.
            quoted = str(escape(value)).replace('"', "&quot;")
            params.append(f'{escape(key)}="{quoted}"')
    return Markup(" ".join(params))


def install():
    """Make WTForms' widgets and labels use `html_params` (idempotent)."""
    wtforms.widgets.core.html_params = html_params
    wtforms.widgets.html_params = html_params  # what Label.__call__ reads
    for widget in vars(wtforms.widgets.core).values():
        held = isinstance(widget, type) and widget.__dict__.get("html_params")
        if isinstance(held, staticmethod) and held.__func__ is wtforms_html_params:
            widget.html_params = staticmethod(html_params)
