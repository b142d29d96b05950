from flask import render_template

from villa.auth import role_required
from villa.jobs import upkeep
from villa.pledge import current_pledge
from villa.web.admin import SECTIONS, bp


@bp.get("/")
@role_required("admin")
def index():
    return render_template(
        "admin/index.html", sections=SECTIONS, upkeep=upkeep(), pledge_missing=current_pledge() is None
    )
