"""Disputes (撞单): the managers' list, and their decisions.

A manager sees the disputes that touch their team; the manager of the customer's owner decides; a
dispute the customer's change of owner made out of date can only be closed. Names and reasons show
in clear only to who may see the customer in full.
"""

from flask import Blueprint

bp = Blueprint("disputes", __name__, url_prefix="/disputes")

from villa.web.disputes import routes  # noqa: E402, F401
