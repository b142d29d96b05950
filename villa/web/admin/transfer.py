"""Importing a legacy 客户登记表: upload, dry run with the column mapping and report, then import."""

from io import BytesIO

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, SelectField
from wtforms.fields.choices import SelectChoice

from villa.auth import role_required
from villa.i18n import gettext as _
from villa.i18n import lazy_gettext as _l
from villa.import_file import WEB_LIMITS, ImportProblem, too_large
from villa.importer import ImportOptions, file_digest, run_import
from villa.models import ImportRun, User
from villa.transfer import NOTES, XLSX_TYPE, Report, report_workbook, status_label
from villa.web.admin import bp, section
from villa.web.errors.routes import render_error

FIELD_LABELS = {
    "name": _l("Name"),
    "phone": _l("Mobile phone"),
    "gender": _l("Gender"),
    "channel": _l("Source channel"),
    "unit_type": _l("Unit type"),
    "budget": _l("Budget"),
    "area_band": _l("Area"),
    "owner": _l("Sales rep"),
    "registered_at": _l("Registered on"),
    "notes": _l("Notes"),
    "id_number": _l("ID number"),
}
SHOWN_ROWS = 500  # the page lists the first rows; the downloaded report has them all


class ImportForm(FlaskForm):
    upload = FileField(_l("Legacy register (.xlsx)"))
    with_ids = BooleanField(_l("The customers' separate consent for ID numbers is on file"))
    default_owner = SelectField(_l("Sales rep for rows without one"), validate_choice=False)


class ApplyForm(FlaskForm):
    upload = FileField(_l("The same file again"))


@bp.route("/import", methods=["GET", "POST"])
@role_required("admin")
def import_register():
    form = _import_form()
    if form.validate_on_submit():
        content = _upload_bytes(form.upload)
        if content is not None:
            options = ImportOptions(
                with_ids=form.with_ids.data,
                default_owner=_rep_or_none(form.default_owner.data),
                limits=WEB_LIMITS,
            )
            try:
                run, _report = run_import(content, form.upload.data.filename or "", current_user, options)
            except ImportProblem as problem:
                form.upload.errors.append(problem.message)
            else:
                return redirect(url_for("admin.import_report", run_id=run.id), 303)
    return _import_page(form, 422 if request.method == "POST" else 200)


def _import_form(**kwargs) -> ImportForm:
    form = ImportForm(**kwargs)
    form.default_owner.choices = [SelectChoice("", _l("The public pool"))] + [
        SelectChoice(rep.username, rep.display_name) for rep in User.reps()
    ]
    return form


def _import_page(form: ImportForm, status: int):
    runs = ImportRun.select().order_by(ImportRun.id.desc()).limit(20)
    return render_template("admin/import.html", form=form, runs=runs, row_limit=WEB_LIMITS.rows), status


@bp.errorhandler(RequestEntityTooLarge)
def _upload_too_large(error):
    """An upload past the request limit: refused before it is read, said where the file was chosen."""
    # Raised before the view (reading the form for its CSRF token): its role check has not run yet.
    is_admin = current_user.is_authenticated and current_user.role == "admin"
    if not is_admin or request.endpoint not in ("admin.import_register", "admin.apply_import"):
        return render_error(413)
    message = too_large(WEB_LIMITS)
    if request.endpoint == "admin.apply_import":
        flash(message, "error")
        return redirect(url_for("admin.import_report", run_id=request.view_args["run_id"]), 303)
    form = _import_form(formdata=None)
    form.upload.errors = [message]
    return _import_page(form, 413)


@bp.get("/import/<int:run_id>")
@role_required("admin")
def import_report(run_id):
    run = _run_or_404(run_id)
    report = Report.from_run(run)
    return render_template(
        "admin/import_report.html",
        run=run,
        report=report,
        counts=report.counts(),
        notes=[NOTES[note] for note in report.notes if note in NOTES],
        field_labels=FIELD_LABELS,
        shown=report.outcomes[:SHOWN_ROWS],
        status_label=status_label,
        apply_form=ApplyForm(),
    )


@bp.post("/import/<int:run_id>/apply")
@role_required("admin")
def apply_import(run_id):
    """Import for real, after a dry run of the very same file (matched by its SHA-256)."""
    run = _run_or_404(run_id)
    form = ApplyForm()
    content = _upload_bytes(form.upload) if form.validate_on_submit() and run.dry_run else None
    if content is None or file_digest(content) != run.file_sha256:
        flash(_("Choose the same file the dry run checked; nothing was imported."), "error")
        return redirect(url_for("admin.import_report", run_id=run.id), 303)
    stored = Report.from_run(run).options
    options = ImportOptions(
        with_ids=bool(stored.get("with_ids")),
        default_owner=_rep_or_none(stored.get("default_owner")),
        limits=WEB_LIMITS,
    )
    try:
        applied, report = run_import(content, run.filename, current_user, options, apply=True)
    except ImportProblem as problem:
        flash(problem.message, "error")
        return redirect(url_for("admin.import_report", run_id=run.id), 303)
    flash(_("Imported %(count)d customers.", count=report.counts()["imported"]), "success")
    return redirect(url_for("admin.import_report", run_id=applied.id), 303)


@bp.get("/import/<int:run_id>/report.xlsx")
@role_required("admin")
def import_report_file(run_id):
    run = _run_or_404(run_id)
    content = report_workbook(run, Report.from_run(run))
    response = send_file(
        BytesIO(content), mimetype=XLSX_TYPE, as_attachment=True, download_name=f"import-report-{run.id}.xlsx"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _upload_bytes(upload_field) -> bytes | None:
    upload = upload_field.data
    if not upload or not getattr(upload, "filename", ""):
        upload_field.errors = [*upload_field.errors, _("Choose an .xlsx file.")]
        return None
    return upload.stream.read()


def _rep_or_none(username: str | None) -> User | None:
    rep = User.by_username(username) if username else None
    return rep if rep is not None and rep.role == "rep" and rep.active else None


def _run_or_404(run_id: int) -> ImportRun:
    return ImportRun.get_or_none(ImportRun.id == run_id) or abort(404)


section("admin.import_register", _l("Import"), _l("Bring in a legacy customer register (客户登记表, .xlsx)."))
