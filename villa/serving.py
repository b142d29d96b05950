"""What the web server needs beyond the app: safe integer URLs, upload limits, a redacting access log."""

import re

from flask import request
from gunicorn.glogging import Logger
from werkzeug.routing import IntegerConverter

# The largest id a database integer column holds; bigger numbers in a URL match no record.
MAX_ID = 2**63 - 1
FORM_LIMIT = 1 * 1024 * 1024
# Endpoints that receive files (sales materials, Excel imports) may send more than a form.
UPLOAD_ENDPOINTS = {"admin.materials", "admin.import_register", "admin.apply_import"}


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` that does not match numbers the database cannot store (a 404, not a 500)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


# A self-service correction link, however many slashes lead to it: its token is a key.
CORRECTION_LINK = re.compile(r"^/+c/")


class RedactingLogger(Logger):
    """Gunicorn's access log without the secrets some paths carry (self-service correction links).

    A request gunicorn could not parse reaches the log with whatever it had read: atoms may be
    missing or None. An exception here ends the worker, so every atom is taken as it comes."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = atoms.get("U")
        if not isinstance(path, str):
            atoms["U"] = "-"
        elif CORRECTION_LINK.match(path):
            atoms["U"] = "/c/[token]"
        return atoms


def limit_request_size():
    """Forms are small: refuse big bodies early (413), except on the routes that take uploads."""
    if request.endpoint not in UPLOAD_ENDPOINTS:
        request.max_content_length = FORM_LIMIT


def init_app(app):
    app.url_map.converters["int"] = BoundedIntegerConverter
    # Registered before CSRFProtect's hook, which reads the form: the limit must apply first.
    app.before_request(limit_request_size)
