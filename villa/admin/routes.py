from flask import render_template

from villa.admin import bp
from villa.auth import role_required
from villa.models import User


@bp.get("/users")
@role_required("admin")
def users():
    people = User.select().order_by(User.role, User.username)
    return render_template("admin/users.html", users=people)
