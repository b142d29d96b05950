"""The admin's PIPL erasure form, loaded when its section of the client page is opened.

The erasure itself is an admin action (villa/web/admin/retention.py: erase_customer).
"""

from flask import abort

from villa.auth import role_required
from villa.customers import customer_by_id
from villa.web.admin.forms import ErasureForm
from villa.web.clients import bp
from villa.web.clients.routes import partial_response


@bp.get("/<int:customer_id>/erasure")
@role_required("admin")
def erasure_form(customer_id):
    customer = customer_by_id(customer_id) or abort(404)
    form = ErasureForm(formdata=None, expected=customer.id)
    return partial_response(customer, "clients/_erasure.html", erase_form=form)
