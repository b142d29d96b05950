"""Sales materials: the admin keeps the list; the desk opens the files."""

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from villa.auth import role_required
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.materials import UPLOAD_TYPES, MaterialRejected, add_material, deactivate, stored_path
from villa.models import Material
from villa.web.admin import bp, section
from villa.web.admin.forms import MaterialForm


@bp.route("/materials", methods=["GET", "POST"])
@role_required("admin")
def materials():
    form = MaterialForm()
    if form.validate_on_submit():
        try:
            material = add_material(form.name.data, form.upload.data, current_user._get_current_object())
        except MaterialRejected as rejected:
            form[rejected.field].errors.append(rejected.message)
        else:
            flash(_("Material added: %(name)s", name=material.name), "success")
            return redirect(url_for("admin.materials"), 303)
    status = 422 if request.method == "POST" else 200
    listed = Material.select().order_by(Material.active.desc(), Material.sort_order, Material.id)
    return render_template("admin/materials.html", form=form, materials=listed), status


@bp.post("/materials/<int:material_id>/deactivate")
@role_required("admin")
def deactivate_material(material_id):
    material = _material_or_404(material_id)
    if material.active:
        deactivate(material, current_user._get_current_object())
        flash(_("Material taken off the list: %(name)s", name=material.name), "success")
    return redirect(url_for("admin.materials"), 303)


@bp.get("/materials/<int:material_id>/file")
@role_required("reception", "rep", "manager", "admin")
def material_file(material_id):
    material = _material_or_404(material_id)
    path = stored_path(material)
    if path is None or material.content_type not in UPLOAD_TYPES:
        abort(404)
    return send_file(
        path,
        mimetype=material.content_type,
        download_name=f"{material.name}{UPLOAD_TYPES[material.content_type]}",
    )


def _material_or_404(material_id: int) -> Material:
    material = Material.get_or_none(Material.id == material_id)
    if material is None:
        abort(404)
    return material


section("admin.materials", _l("Materials"), _l("Floor plans and price lists the desk hands to customers."))
