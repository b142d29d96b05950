"""Moving the customers a manager ticked in the list: to one rep, spread over the team, or the pool."""

from flask import flash, redirect, request, url_for
from flask_login import current_user

from villa.auth import role_required
from villa.handover import HandoverRefused, transfer
from villa.i18n import ngettext
from villa.models import User
from villa.web.clients import bp
from villa.web.clients.forms import TransferForm
from villa.web.clients.routes import list_page


@bp.post("/transfer")
@role_required("manager")
def transfer_customers():
    form = TransferForm(current_user)
    ids = [int(value) for value in request.form.getlist("ids") if value.isdigit()]
    if form.validate_on_submit():
        chosen = form.to_rep.data or ""
        to_rep = User.get_or_none(User.id == int(chosen)) if chosen.isdigit() else None
        manager = current_user._get_current_object()
        try:
            moved = transfer(manager, ids, form.destination.data, to_rep, form.reason.data)
        except HandoverRefused as refused:
            form[refused.field if refused.field in form else "destination"].errors = [refused.message]
        else:
            message = ngettext("%(num)d customer moved.", "%(num)d customers moved.", moved.count)
            flash(message, "success")
            return redirect(url_for("clients.index", **request.args), 303)
    return list_page(422, form, ids)
