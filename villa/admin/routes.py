from flask import render_template

from villa.admin import SECTIONS, bp
from villa.auth import role_required


@bp.get("/")
@role_required("admin")
def index():
    return render_template("admin/index.html", sections=SECTIONS)
