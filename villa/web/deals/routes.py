from flask import render_template
from flask_login import current_user

from villa.auth import role_required
from villa.customers import with_shown_names
from villa.deals import waiting_for
from villa.web.clients.forms import CancelDealForm
from villa.web.deals import bp


@bp.get("/")
@role_required("manager")
def waiting():
    """The 认购 and 签约 of the manager's team waiting for confirmation, oldest first."""
    manager = current_user._get_current_object()
    deals = list(waiting_for(manager))
    with_shown_names(manager, [deal.customer for deal in deals])
    return render_template("deals/waiting.html", deals=deals, cancel_form=CancelDealForm(formdata=None))
