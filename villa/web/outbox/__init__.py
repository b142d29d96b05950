"""Messages to customers (the outbox): the desk sends by hand what the gateway left, and marks it sent.

The list shows masked names and texts; the number and the full text come with a logged reveal, to
who may send by hand (messaging.sends_by_hand).
"""

from flask import Blueprint

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

from villa.web.outbox import routes  # noqa: E402, F401
