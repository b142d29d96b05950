"""Sales materials: the admin's list and uploads, the file route, and handovers at the desk."""

import io
import json
import re
from datetime import timedelta

import pytest

from villa.materials import add_material, deactivate, materials_dir, record_handover
from villa.models import ROLES, AuditLog, Material, MaterialGiven, now

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


def upload(content, filename="plan.pdf", content_type="application/pdf"):
    return (io.BytesIO(content), filename, content_type)


def post_material(session, name, file=None):
    data = {"name": name}
    if file is not None:
        data["upload"] = file
    return session.post("/admin/materials", data, content_type="multipart/form-data")


@pytest.fixture
def admin(login_as):
    session = login_as("admin")
    session.get("/lang/en")
    return session


def stored_files():
    folder = materials_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_admin_uploads_a_pdf_stored_under_a_random_name(app, admin):
    with app.app_context():
        before = stored_files()
    response = post_material(admin, " A1 户型图 ", upload(PDF, "../../plan.pdf"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/materials"
    material = Material.get()
    assert (material.name, material.content_type, material.active) == ("A1 户型图", "application/pdf", True)
    assert re.fullmatch(r"[0-9a-f]{32}\.pdf", material.filename)
    with app.app_context():
        assert stored_files() == sorted([*before, material.filename])
        assert (materials_dir() / material.filename).read_bytes() == PDF
    entry = AuditLog.get(AuditLog.action == "material_added")
    assert entry.target == f"material:{material.id}" and entry.actor_id == admin.user.id
    page = admin.get("/admin/materials").get_data(as_text=True)
    assert "A1 户型图" in page and f"/admin/materials/{material.id}/file" in page
    assert "plan.pdf" not in page


def test_material_without_a_file(admin):
    assert post_material(admin, "价目表").status_code == 303
    material = Material.get()
    assert (material.filename, material.content_type) == ("", "")
    assert "/file" not in admin.get("/admin/materials").get_data(as_text=True)


def test_png_is_accepted(admin):
    assert post_material(admin, "B2", upload(PNG, "b2.png", "image/png")).status_code == 303
    assert Material.get().filename.endswith(".png")


@pytest.mark.parametrize(
    "file",
    [
        upload(EXE, "setup.pdf", "application/pdf"),  # an executable renamed .pdf
        upload(PDF, "plan.exe", "application/x-msdownload"),  # right bytes, type not allowed
        upload(PNG, "b2.pdf", "application/pdf"),  # a PNG claiming to be a PDF
        upload(b"", "empty.pdf", "application/pdf"),
    ],
)
def test_a_file_that_is_not_what_it_claims_is_refused(app, admin, file):
    with app.app_context():
        before = stored_files()
    response = post_material(admin, "A1 户型图", file)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="error-upload"' in html
    assert "PDF, PNG or JPEG" in html
    assert 'value="A1 户型图"' in html, "the name is kept"
    assert Material.select().count() == 0
    assert AuditLog.select().where(AuditLog.action == "material_added").count() == 0
    with app.app_context():
        assert stored_files() == before


def test_a_file_over_10_mb_is_refused(app, admin):
    with app.app_context():
        before = stored_files()
    big = PDF + b"0" * (10 * 1024 * 1024)
    response = post_material(admin, "大图", upload(big))
    assert response.status_code == 422
    assert "larger than 10 MB" in response.get_data(as_text=True)
    assert Material.select().count() == 0
    with app.app_context():
        assert stored_files() == before


@pytest.mark.parametrize("name", ["", "   ", "长" * 61])
def test_a_bad_name_is_refused(admin, name):
    response = post_material(admin, name, upload(PDF))
    assert response.status_code == 422
    assert 'data-testid="error-name"' in response.get_data(as_text=True)
    assert Material.select().count() == 0


def test_upload_needs_the_csrf_token(admin):
    data = {"name": "A1", "upload": upload(PDF), "csrf_token": "wrong"}
    response = admin.post("/admin/materials", data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert Material.select().count() == 0


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_only_admins_keep_the_list(app, login_as, make_user, role):
    with app.app_context():
        material = add_material("A1", None, make_user("admin"))
    session = login_as(role)
    assert session.get("/admin/materials").status_code == 403
    assert post_material(session, "B2", upload(PDF)).status_code == 403
    assert session.post(f"/admin/materials/{material.id}/deactivate").status_code == 403
    assert Material.select().count() == 1 and Material.get().active


def test_deactivate_keeps_the_row_and_the_file(app, admin):
    post_material(admin, "旧价目表", upload(PDF))
    material = Material.get()
    response = admin.post(f"/admin/materials/{material.id}/deactivate")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/materials"
    kept = Material.get_by_id(material.id)
    assert not kept.active
    with app.app_context():
        assert (materials_dir() / kept.filename).is_file()
    assert AuditLog.select().where(AuditLog.action == "material_deactivated").count() == 1
    assert admin.post("/admin/materials/999999/deactivate").status_code == 404


@pytest.mark.parametrize("role", ["reception", "rep", "manager", "admin"])
def test_the_desk_opens_the_file(admin, login_as, role):
    post_material(admin, "A1 户型图", upload(PDF))
    material = Material.get()
    response = login_as(role).get(f"/admin/materials/{material.id}/file")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.get_data() == PDF
    assert "inline" in response.headers["Content-Disposition"]
    assert ".pdf" in response.headers["Content-Disposition"]


def test_auditors_do_not_open_files(admin, login_as):
    post_material(admin, "A1", upload(PDF))
    assert login_as("auditor").get(f"/admin/materials/{Material.get().id}/file").status_code == 403


def test_file_route_404s(app, admin, login_as, make_user):
    rep = login_as("rep")
    with app.app_context():
        no_file = add_material("价目表", None, make_user("admin"))
        deactivate(no_file, make_user("admin"))
    assert rep.get(f"/admin/materials/{no_file.id}/file").status_code == 404
    assert rep.get("/admin/materials/999999/file").status_code == 404
    post_material(admin, "A1", upload(PDF))
    gone = Material.get(Material.name == "A1")
    with app.app_context():
        (materials_dir() / gone.filename).unlink()
    assert rep.get(f"/admin/materials/{gone.id}/file").status_code == 404
    # A stored name can only be ours, but a tampered row still cannot reach outside the folder.
    Material.update(filename="../keys.json").where(Material.id == gone.id).execute()
    assert rep.get(f"/admin/materials/{gone.id}/file").status_code == 404


def test_record_handover_skips_inactive_unknown_and_repeats(app, make_user, make_customer):
    desk = make_user("reception")
    customer = make_customer()
    with app.app_context():
        plan = add_material("A1 户型图", None, make_user("admin"))
        prices = add_material("价目表", None, make_user("admin"))
        old = add_material("旧价目表", None, make_user("admin"))
        deactivate(old, make_user("admin"))

    given = record_handover(customer, [plan.id, old.id, 999999, plan.id], desk)
    assert [g.material_id for g in given] == [plan.id]
    entry = AuditLog.get(AuditLog.action == "materials_given")
    assert (entry.customer_id, entry.actor_id) == (customer.id, desk.id)
    assert json.loads(entry.changes) == {"materials": [plan.id]}

    again = record_handover(customer, [plan.id, prices.id], desk)
    assert [g.material_id for g in again] == [prices.id]
    assert record_handover(customer, [plan.id, prices.id], desk) == []
    assert record_handover(customer, [], desk) == []
    assert MaterialGiven.select().where(MaterialGiven.customer == customer).count() == 2
    assert AuditLog.select().where(AuditLog.action == "materials_given").count() == 2

    other = make_customer()
    assert len(record_handover(other, [plan.id], desk)) == 1, "another customer gets their own"


def test_handover_on_an_earlier_day_does_not_count(app, make_user, make_customer):
    desk = make_user("reception")
    customer = make_customer()
    with app.app_context():
        plan = add_material("A1", None, make_user("admin"))
    MaterialGiven.create(customer=customer, material=plan, given_by=desk, given_at=now() - timedelta(days=2))
    assert len(record_handover(customer, [plan.id], desk)) == 1


def test_active_materials_in_order(app, make_user):
    from villa.materials import active_materials

    admin_user = make_user("admin")
    with app.app_context():
        first = add_material("A1", None, admin_user)
        second = add_material("B2", None, admin_user)
        third = add_material("C3", None, admin_user)
        deactivate(second, admin_user)
    assert [m.id for m in active_materials()] == [first.id, third.id]


def test_admins_find_materials_on_the_admin_home(admin, login_as):
    assert 'href="/admin/"' in admin.get("/").get_data(as_text=True)
    assert 'href="/admin/materials"' in admin.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/"' not in login_as("rep").get("/").get_data(as_text=True)
    assert login_as("rep").get("/admin/").status_code == 403
