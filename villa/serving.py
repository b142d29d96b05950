"""What the web server needs beyond the app: safe integer URLs, upload limits, a redacting access log."""

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


class RedactingLogger(Logger):
    """Gunicorn's access log without the secrets some paths carry (self-service correction links)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        if atoms.get("U", "").startswith("/c/"):
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
