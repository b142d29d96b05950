from flask import render_template
from flask_babel import lazy_gettext as _l

from villa.admin import SECTIONS, bp, section
from villa.auth import role_required
from villa.models import User


@bp.get("/")
@role_required("admin")
def index():
    return render_template("admin/index.html", sections=SECTIONS)


@bp.get("/users")
@role_required("admin")
def users():
    people = User.select().order_by(User.role, User.username)
    return render_template("admin/users.html", users=people)


section("admin.users", _l("Users"), _l("Staff accounts, roles and teams."))
