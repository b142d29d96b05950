"""Staff notifications: the bell and the inbox, each user's preferences, the admin's queue.

After a request that wrote notifications with deliveries, they are sent once its answer is out
(best effort: `villa notify-send` sends whatever this leaves).
"""

import logging

from flask import Blueprint, current_app

from villa.db import db
from villa.notify.messages import written_in_this_request
from villa.notify.outbox import send_soon

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
log = logging.getLogger("villa.notify")


@bp.after_app_request
def _send_when_answered(response):
    written = written_in_this_request()
    if written:
        app = current_app._get_current_object()
        response.call_on_close(lambda: _send(app, written))
    return response


def _send(app, notification_ids: list[int]):
    try:
        with app.app_context(), db.connection_context():
            send_soon(notification_ids)
    except Exception as exc:  # noqa: BLE001 - after the answer nobody is there to see it; cron retries
        log.warning("sending after the request failed: %s", exc.__class__.__name__)


from villa.web.notifications import preference_routes, queue_routes, routes  # noqa: E402, F401
