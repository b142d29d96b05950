from flask import render_template
from flask_login import current_user

from villa.auth import role_required
from villa.customers import with_shown_names
from villa.deals import waiting_count, waiting_for
from villa.web.deals import bp

WAITING_SHOWN = 200


@bp.get("/")
@role_required("manager")
def waiting():
    """The 认购 and 签约 of the manager's team waiting for confirmation, oldest first."""
    manager = current_user._get_current_object()
    deals = list(waiting_for(manager, WAITING_SHOWN))
    total = waiting_count(manager) if len(deals) == WAITING_SHOWN else len(deals)
    with_shown_names(manager, [deal.customer for deal in deals])
    return render_template("deals/waiting.html", deals=deals, total=total)
