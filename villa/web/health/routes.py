"""For monitors and load balancers: liveness, readiness of the nightly upkeep, and the metrics.

None of them needs a login, and none says anything about a customer or a user."""

import hmac
import logging

from flask import current_app, request
from peewee import DatabaseError

from villa.db import db
from villa.jobs import upkeep
from villa.metrics import exposition
from villa.web.health import bp

log = logging.getLogger("villa.health")
PLAIN = {"Content-Type": "text/plain; charset=utf-8"}


@bp.get("/healthz")
def healthz():
    try:
        db.execute_sql("SELECT 1")
    except DatabaseError as exc:
        log.error("health check: database unavailable (%s)", exc.__class__.__name__)
        return "database unavailable", 503, PLAIN
    return "ok", 200, PLAIN


@bp.get("/healthz/ready")
def ready():
    """200 when the last `villa daily` succeeded and the newest backup is recent; else 503 and why."""
    try:
        problems = upkeep().problems()
    except DatabaseError as exc:
        log.error("readiness check: database unavailable (%s)", exc.__class__.__name__)
        return "database unavailable", 503, PLAIN
    if problems:
        return "; ".join(problems), 503, PLAIN
    return "ok", 200, PLAIN


@bp.get("/metrics")
def metrics():
    """Prometheus text, for the bearer of VILLA_METRICS_TOKEN only (no token configured: 404)."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    if not token:
        return "not found", 404, PLAIN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return "unauthorized", 401, {**PLAIN, "WWW-Authenticate": 'Bearer realm="villa metrics"'}
    body, content_type = exposition()
    return body, 200, {"Content-Type": content_type}
