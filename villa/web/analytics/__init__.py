"""Analysis and assessment (分析与考核): the managers' dashboard, rep scorecards, Excel exports."""

from flask import Blueprint

bp = Blueprint("analytics", __name__, url_prefix="/analytics")

from villa.web.analytics import routes  # noqa: E402, F401
