"""Error pages: a full page, or a small fragment for htmx; never a traceback."""

import logging
import secrets

from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from villa.auth import is_htmx
from villa.i18n import lazy_gettext as _l
from villa.web.errors import bp

log = logging.getLogger("villa.errors")

TITLES = {
    400: _l("Bad request"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Not allowed"),
    409: _l("Already registered"),
    413: _l("File too large"),
    422: _l("Please check the form"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong"),
}
EXPLANATIONS = {
    400: _l("The request could not be understood. Reload the page and try again."),
    403: _l("Your role does not allow this page or action."),
    404: _l("There is no such page or record."),
    405: _l("This action is not available here."),
    413: _l("The uploaded file is larger than allowed."),
    429: _l("Too many attempts. Wait a while and try again."),
    500: _l("The error has been recorded. Tell the administrator this reference:"),
}


def render_error(status: int, message=None, error_id=None):
    template = "errors/_error.html" if is_htmx() else "errors/error.html"
    body = render_template(
        template,
        status=status,
        title=TITLES.get(status, TITLES[400]),
        message=message or EXPLANATIONS.get(status, ""),
        error_id=error_id,
    )
    return body, status


@bp.app_errorhandler(CSRFError)
def csrf_error(error):
    return render_error(
        400, _l("The form expired or was sent without its security token. Reload and try again.")
    )


@bp.app_errorhandler(HTTPException)
def http_error(error):
    return render_error(error.code or 500, getattr(error, "villa_message", None))


@bp.app_errorhandler(OverflowError)
def number_too_large(error):
    # An id or number beyond what the database stores (a hand-edited URL or form): no such record.
    return render_error(404)


@bp.app_errorhandler(Exception)
def unexpected_error(error):
    error_id = secrets.token_hex(4)
    log.exception("unhandled error %s", error_id)
    return render_error(500, error_id=error_id)
