"""Agencies and brokers (中介与经纪人): the records the admin and the sales managers keep, the report
by agency and broker, and the 佣金确认 list of signed deals with their confirmed 报备."""

from flask import Blueprint

bp = Blueprint("agencies", __name__, url_prefix="/agencies")

from villa.web.agencies import report_routes, routes  # noqa: E402, F401
