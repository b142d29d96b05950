"""Dashboard, ranking and scorecard pages, and the Excel export of any of their tables."""

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from villa.analytics import period_from_args
from villa.auth import role_required
from villa.i18n import lazy_gettext as _l
from villa.models import User
from villa.scorecard import DEFAULT_SORT, RANKING, may_open_card, scores
from villa.web.analytics import bp
from villa.web.analytics.tables import (
    TABLES,
    Figure,
    dashboard_tables,
    logged_export,
    rep_columns,
    rep_scores,
    reps_table,
)

ANALYSTS = ("manager", "admin")
MAX_ID = 2**63 - 1  # a larger id matches no route (404) instead of overflowing the database driver
PRESET_LABELS = (
    ("week", _l("This week")),
    ("month", _l("This month")),
    ("90d", _l("Last 90 days")),
)


def _sort() -> str:
    sort = request.args.get("sort", DEFAULT_SORT)
    return sort if sort in RANKING else DEFAULT_SORT


@bp.get("/")
@role_required(*ANALYSTS)
def dashboard():
    period = period_from_args(request.args)
    tables = dashboard_tables(period)
    return render_template("analytics/dashboard.html", period=period, tables=tables, presets=PRESET_LABELS)


@bp.get("/reps")
@role_required(*ANALYSTS)
def reps():
    period, sort = period_from_args(request.args), _sort()
    results = rep_scores(period, current_user, sort)
    return render_template(
        "analytics/reps.html",
        period=period,
        sort=sort,
        results=results,
        table=reps_table(results),
        columns=rep_columns(),
        presets=PRESET_LABELS,
    )


@bp.get("/me")
@role_required("rep", *ANALYSTS)
def my_card():
    if current_user.role != "rep":
        return redirect(url_for("analytics.reps", **request.args))
    return redirect(url_for("analytics.card", rep_id=current_user.id, **request.args))


@bp.get(f"/reps/<int(max={MAX_ID}):rep_id>")
@role_required("rep", *ANALYSTS)
def card(rep_id):
    # A rep is refused before the lookup: another id says nothing about who exists.
    if current_user.role == "rep" and rep_id != current_user.id:
        abort(403)
    rep = User.get_or_none(User.id == rep_id, User.role == "rep") or abort(404)
    if not may_open_card(current_user, rep):
        abort(403)
    period = period_from_args(request.args)
    return render_template(
        "analytics/card.html", period=period, score=scores(period, [rep])[0], rep=rep, presets=PRESET_LABELS
    )


@bp.get("/export/<name>.xlsx")
@role_required(*ANALYSTS)
def export(name):
    """One table of the dashboard (or the ranking) as .xlsx; every export is logged."""
    period = period_from_args(request.args)
    if name == "reps":
        table = reps_table(rep_scores(period, current_user, _sort()))
    elif name in TABLES:
        table = dashboard_tables(period, (name,))[name]
    else:
        abort(404)
    return logged_export(table, period, current_user._get_current_object(), name)


@bp.app_template_filter()
def as_figure(value, kind="percent") -> str:
    """A rate as a percentage, or an average in days; "—" when there was nothing to count."""
    return str(Figure(value, kind))
