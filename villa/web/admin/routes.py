from flask import render_template

from villa.auth import role_required
from villa.web.admin import SECTIONS, bp


@bp.get("/")
@role_required("admin")
def index():
    return render_template("admin/index.html", sections=SECTIONS)
