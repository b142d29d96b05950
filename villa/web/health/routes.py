"""Liveness for load balancers and the benchmark: answers only when the database does."""

import logging

from peewee import DatabaseError

from villa.db import db
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
