"""The customer's self-service correction link and its QR code, made from the client page."""

import qrcode
from flask import abort, render_template, url_for
from flask_login import current_user
from markupsafe import Markup
from qrcode.image.svg import SvgPathImage

from villa import corrections
from villa.auth import is_htmx, role_required
from villa.customers import customer_by_id
from villa.i18n import gettext as _
from villa.identity import mask_name
from villa.web.clients import bp


@bp.post("/<int:customer_id>/correction-link")
@role_required(*corrections.LINK_CREATORS)
def correction_link(customer_id):
    customer = customer_by_id(customer_id) or abort(404)
    if not corrections.may_create_link(current_user, customer):
        abort(403)
    link, token = corrections.create_link(customer, current_user._get_current_object())
    url = url_for("corrections.public_form", token=token, _external=True)
    template = "corrections/_link.html" if is_htmx() else "corrections/link.html"
    return render_template(
        template, customer=customer, masked_name=mask_name(customer.name), link=link, url=url, qr=qr_svg(url)
    )


def qr_svg(url: str) -> Markup:
    """The URL as an inline SVG QR code: path data only, drawn without Pillow."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, image_factory=SvgPathImage)
    code.add_data(url)
    code.make(fit=True)
    label = _("QR code of the correction link")
    image = code.make_image(**{"class": "qr-code", "role": "img", "aria-label": label})
    return Markup(image.to_string(encoding="unicode"))  # ElementTree escapes attribute values
