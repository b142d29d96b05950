from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from villa import rotation
from villa.auth import is_htmx, role_required
from villa.broker_accounts import broker_names
from villa.customers import customer_by_id, shown_name, with_shown_names
from villa.home import desk_registered_today, registered_today
from villa.i18n import gettext as _
from villa.identity import id_number_problem, phone_problem
from villa.lookups import LookupRefused
from villa.materials import active_materials
from villa.models import Customer, User
from villa.ownership import OwnershipError, open_dispute, take_from_pool
from villa.questions import MULTIPLE, QUESTIONS, join_answers
from villa.registration import (
    DuplicateCustomer,
    Match,
    Registration,
    check_known,
    hand_out_from_pool,
    log_return_visit,
    open_draft,
    register,
    seal_draft,
    todays_desk_visits,
)
from villa.report_desk import binding_report, find_report
from villa.web.reception import bp
from villa.web.reception.forms import DisputeForm, HandOutForm, RegistrationForm, ReturnVisitForm
from villa.web.reception.rotation_routes import rotation_context

DESK = ("reception", "rep", "manager")
BACK_TO_FORM = "back_to_form"  # 返回修改 on the conflict page: the sealed values (registration.seal_draft)
TEXT_FIELDS = (
    "age_band", "referrer_name", "broker_agency", "broker_name", "unit_type", "area_band", "budget",
    "purpose", "grade", "competing_projects", "notes",
)  # fmt: skip
NUMBER_FIELDS = ("social_insurance_months", "homes_owned")
PRIVATE_FIELDS = ("address", "wechat", "payment_method", "asset_band", "credit_notes")


@bp.get("/")
@role_required(*DESK)
def desk():
    """Today at the desk: the day's visits and calls, who received them, the rotation queue; the
    receptionist's home page, with the count of today's registrations."""
    registered = registered_today(current_user) if current_user.role == "reception" else None
    today = todays_desk_visits(request.args.get("page", 1, type=int))
    # Names as this viewer may see them: the desk sees in full whom it registered today.
    with_shown_names(current_user, [visit.customer for visit in today.visits])
    return render_template(
        "reception/desk.html", visits=today.visits, today=today, registered=registered, **rotation_context()
    )


@bp.get("/today")
@role_required("reception")
def registered_today_list():
    """今日登记: the customers registered today, newest first (the count on the desk opens it)."""
    return render_template("reception/registered_today.html", **desk_registered_today(current_user))


@bp.route("/register", methods=["GET", "POST"])
@role_required(*DESK)
def register_customer():
    next_rep = rotation.next_rep() if current_user.role != "rep" else None
    if BACK_TO_FORM in request.form:  # 返回修改 on the conflict page: the values typed, unchecked
        draft = open_draft(request.form[BACK_TO_FORM], current_user) or []
        return _form_page(RegistrationForm(MultiDict(draft), **_form_choices()), next_rep)
    form = RegistrationForm(**_form_choices())
    if request.method == "POST":  # a valid 报备 of this customer: 确客 takes agency and broker from it
        form.report = binding_report(request.form.get("phone", "")[:40], request.form.get("name", "")[:40])
    if request.method == "GET" and next_rep:
        form.rep.data = next_rep.id
    if form.validate_on_submit() and (entry := _registration(form, next_rep)):
        try:
            customer = register(current_user, entry)
        except DuplicateCustomer as duplicate:
            typed = [(k, v) for k, v in request.form.items(multi=True) if k != "csrf_token"]
            draft = seal_draft(typed, current_user)
            return _conflict(Match(duplicate.existing, duplicate.matched), draft=draft)
        except OwnershipError as refused:  # the rep holds as many protected customers as allowed
            if current_user.role == "rep":
                return _form_page(form, next_rep, 422, form_error=refused.message)
            form.rep.errors.append(refused.message)
            return _form_page(form, next_rep, 422)
        flash(registered_message(customer), "success")
        return redirect(url_for("clients.detail", customer_id=customer.id), 303)
    return _form_page(form, next_rep, 422 if request.method == "POST" else 200)


def _form_choices() -> dict:
    # The reps by name only: a group's hundreds of reps as whole rows cost more than the form.
    return {"reps": User.rep_names(), "materials": active_materials(), "brokers": broker_names()}


def _form_page(form, next_rep: User | None, status=200, form_error=None):
    page = render_template("reception/register.html", form=form, form_error=form_error, next_rep=next_rep)
    return page, status


def registered_message(customer: Customer) -> Markup:
    """The flash on the new client page: who is registered, and the desk's next steps."""
    return Markup(render_template("reception/_registered.html", customer=customer))


def _registration(form, next_rep: User | None) -> Registration | None:
    """The validated form as a Registration; None when the chosen rep is not a valid owner.
    `next_rep`: whose turn it is (read once by the route, which also shows it)."""
    if current_user.role == "rep":
        owner, via_rotation, out_of_turn = current_user._get_current_object(), False, None
    else:
        owner = form.chosen_rep()
        if owner is None:
            form.rep.errors.append(_("Choose the sales rep who receives this customer."))
            return None
        turn = _turn(form, owner, form.visit_type.data, next_rep)
        if turn is None:
            return None
        via_rotation, out_of_turn = turn
    details = {name: (getattr(form, name).data or "").strip() for name in TEXT_FIELDS}
    details.update({name: getattr(form, name).data for name in NUMBER_FIELDS})
    details["hukou_local"] = {"yes": True, "no": False}.get(form.hukou_local.data)
    details.update({name: (getattr(form, name).data or "").strip() or None for name in PRIVATE_FIELDS})
    for name in QUESTIONS:
        answer = getattr(form, name).data
        details[name] = join_answers(answer) if name in MULTIPLE else answer or ""
    return Registration(
        name=form.name.data,
        phone=form.normal_phone,
        gender=form.gender.data,
        visit_type=form.visit_type.data,
        channel=form.chosen_channel,
        owner=owner,
        alt_phone=form.alt_phone.data or "",
        id_type=form.id_type.data,
        id_number=form.normal_id or "",
        sensitive_consent=form.sensitive_consent.data,
        via_rotation=via_rotation,
        out_of_turn=out_of_turn,
        details=details,
        material_ids=form.materials.data or [],
        report=form.report,
    )


def _turn(form, owner: User, visit_type: str, next_rep: User | None):
    """(via the rotation, out-of-turn reason or None) for a walk-in the desk gives to `owner`; None
    when it goes out of turn without a valid reason (the message is at the form's field)."""
    via_rotation = next_rep is not None and next_rep.id == owner.id
    if visit_type != "visit" or next_rep is None or via_rotation:
        return via_rotation, None
    try:
        reason, note = rotation.out_of_turn(form.skip_reason.data, form.skip_note.data)
    except rotation.RotationError as refused:
        form[refused.field].errors.append(refused.message)
        return None
    return False, (reason, note, next_rep)


def _conflict(match: Match, dispute_form=None, status=409, hand_out_form=None, draft=None):
    """The 判客 answer with its next steps; `draft`: the registration just refused, sealed, which
    返回修改 posts back to the form."""
    template = "reception/_conflict.html" if is_htmx() else "reception/conflict.html"
    if hand_out_form is None and match.customer.in_public_pool and current_user.role != "rep":
        hand_out_form = HandOutForm(formdata=None, reps=User.rep_names(), prefix="hand_out")
        next_rep = rotation.next_rep()
        hand_out_form.rep.data = next_rep.id if next_rep else None
    return render_template(
        template,
        match=match,
        shown_name=shown_name(current_user, match.customer),
        dispute_form=dispute_form or DisputeForm(),
        return_form=ReturnVisitForm(),
        hand_out_form=hand_out_form,
        next_rep=rotation.next_rep(),
        draft=draft,
        back_to_form=BACK_TO_FORM,
    ), status


@bp.get("/check")
@role_required(*DESK)
def check():
    """While the desk types: is this phone or ID number already a customer, and whose? Or, when
    the number cannot be right, what is wrong with it (`finished`: the desk has left the field)."""
    phone, id_number = request.args.get("phone", "")[:40], request.args.get("id_number", "")[:40]
    id_type = request.args.get("id_type", "resident")
    try:
        match = check_known(current_user, phone, id_number, id_type, request.remote_addr or "")
    except LookupRefused as refused:
        return render_template("reception/_dup_warning.html", refused=refused.message), 429
    # An open (or expired) 报备 of this customer: its phone, or its 前三后四 with the surname typed.
    report_match = find_report(phone, request.args.get("name", "")[:40])
    if match is None and report_match is None:
        finished = request.args.get("finished") == "1"
        problem = phone_problem(phone, finished) or id_number_problem(id_number, id_type, finished)
        # Nobody known and nothing wrong (most keystrokes): the empty answer clears the warning.
        return render_template("reception/_dup_warning.html", problem=problem) if problem else ""
    shown = shown_name(current_user, match.customer) if match else None
    return render_template(
        "reception/_dup_warning.html", match=match, shown_name=shown, report_match=report_match
    )


def _customer(customer_id) -> Customer:
    return customer_by_id(customer_id) or abort(404)


@bp.post("/customers/<int:customer_id>/return-visit")
@role_required(*DESK)
def return_visit(customer_id):
    customer = _customer(customer_id)
    form = ReturnVisitForm()
    if not form.validate_on_submit():
        return _conflict(Match(customer, "phone"), status=422)
    log_return_visit(customer, current_user._get_current_object(), form.kind.data, form.note.data)
    owner = customer.owner.display_name if customer.owner else _("the public pool")
    flash(_("Return visit logged and handed to %(owner)s.", owner=owner), "success")
    return redirect(url_for("reception.desk"), 303)


@bp.post("/customers/<int:customer_id>/hand-out")
@role_required("reception", "manager")
def hand_out(customer_id):
    """A customer from the public pool walked in: the rep the desk gives them to becomes the owner."""
    customer = _customer(customer_id)
    form = HandOutForm(reps=User.rep_names(), prefix="hand_out")
    if not customer.in_public_pool:
        flash(_("This customer is no longer in the public pool."), "error")
        return redirect(url_for("reception.desk"), 303)
    rep = form.chosen_rep() if form.validate_on_submit() else None
    if rep is None and not form.errors:
        form.rep.errors.append(_("Choose the sales rep who receives this customer."))
    turn = _turn(form, rep, form.kind.data, rotation.next_rep()) if rep else None
    if turn is None:
        return _conflict(Match(customer, "phone"), status=422, hand_out_form=form)
    try:
        hand_out_from_pool(customer, rep, current_user._get_current_object(), form.kind.data, *turn)
    except OwnershipError as refused:
        form.rep.errors.append(refused.message)
        return _conflict(Match(customer, "phone"), status=422, hand_out_form=form)
    flash(
        _(
            "%(name)s is now %(rep)s's customer.",
            name=shown_name(current_user, customer),
            rep=rep.display_name,
        )
    )
    return redirect(url_for("reception.desk"), 303)


@bp.post("/customers/<int:customer_id>/dispute")
@role_required("rep")
def dispute(customer_id):
    customer = _customer(customer_id)
    if customer.owner_id in (None, current_user.id):
        abort(403)
    form = DisputeForm()
    if not form.validate_on_submit():
        return _conflict(Match(customer, "phone"), dispute_form=form, status=422)
    open_dispute(customer, current_user._get_current_object(), form.reason.data)
    flash(_("Dispute opened. A sales manager will decide who keeps this customer."), "info")
    return redirect(url_for("home.index"), 303)


@bp.post("/customers/<int:customer_id>/take")
@role_required("rep")
def take(customer_id):
    customer = _customer(customer_id)
    try:
        take_from_pool(customer, current_user._get_current_object(), request.form.get("kind", "visit"))
    except OwnershipError as refused:
        flash(refused.message, "error")
        return redirect(url_for("reception.register_customer"), 303)
    flash(_("%(name)s is now your customer.", name=customer.name), "success")
    return redirect(url_for("clients.detail", customer_id=customer.id), 303)
