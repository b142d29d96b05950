"""Deals (成交) for the managers: the 认购 and 签约 waiting for their confirmation.

The confirmation itself, and the cancellation, are done on the customer (villa/web/clients/deal_routes).
"""

from flask import Blueprint

bp = Blueprint("deals", __name__, url_prefix="/deals")

from villa.web.deals import routes  # noqa: E402, F401
