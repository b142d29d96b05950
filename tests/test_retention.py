"""Retention (PIPL): the dry run, anonymising past retention, archiving signed customers, erasure."""

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import raw_column
from villa.crypto import EncryptedField, blind_index
from villa.customers import search_customers, set_alt_phone
from villa.daily import retention
from villa.db import db, is_sqlite
from villa.models import (
    Agency,
    AuditLog,
    Broker,
    ChangeRequest,
    CorrectionLink,
    Customer,
    Dispute,
    FollowUp,
    OutboxMessage,
    Report,
    Setting,
    Visit,
    now,
)
from villa.registration import find_known
from villa.report_desk import find_report
from villa.retention import (
    INDEX_PREFIX,
    REMOVED,
    anonymise,
    anonymise_lapsed_reports,
    archive_signed,
    retention_report,
    run_retention,
)

OLD_PHONE = "13912345678"
OLD_ID = "11010519491231002X"
PERSONAL_COLUMNS = (
    Customer.name,
    Customer.phone,
    Customer.phone_index,
    Customer.alt_phone,
    Customer.alt_phone_index,
    Customer.id_number,
    Customer.id_index,
    Customer.address,
    Customer.wechat,
    Customer.payment_method,
    Customer.asset_band,
    Customer.credit_notes,
    Customer.notes,
    Customer.referrer_name,
    Customer.broker_agency,
    Customer.broker_name,
    Customer.competing_projects,
    Customer.lost_reason,
    Customer.anonymised_at,
    Customer.archived_at,
)


def idle(customer, days):
    """Make the customer's last activity `days` ago."""
    Customer.update(last_activity_at=now() - timedelta(days=days)).where(Customer.id == customer.id).execute()
    return Customer.get_by_id(customer.id)


def years(n):
    return 365 * n


def reload(customer):
    return Customer.get_by_id(customer.id)


def stored(field, row_id):
    """The column as the database holds it: ciphertext bytes for encrypted ones, else the value."""
    if isinstance(field, EncryptedField):
        return raw_column(field, row_id)
    return db.execute_sql(*field.model.select(field).where(field.model.id == row_id).sql()).fetchone()[0]


def snapshot(customer_ids):
    return {cid: [stored(column, cid) for column in PERSONAL_COLUMNS] for cid in customer_ids}


def office_day(moment):
    return (moment + timedelta(hours=8)).date()  # China keeps UTC+8 all year


@pytest.fixture
def full_record(make_user, make_customer):
    """A stale customer with every kind of personal data, in every table that can hold it."""
    rep = make_user("rep")
    customer = make_customer(
        owner=rep,
        name="张三丰",
        phone=OLD_PHONE,
        id_number=OLD_ID,
        channel="referral",
        referrer_name="李四",
        broker_agency="衡山地产经纪行",
        broker_name="王五",
        competing_projects="湖畔壹号、西山别墅",
        address="上海市徐汇区衡山路8号",
        wechat="zhangsf88",
        payment_method="全款",
        asset_band="1000万以上",
        credit_notes="征信良好",
        notes="客户说住在衡山路，女儿在附近上学。",
        grade="B+",
        stage="lost",
        lost_reason="太太嫌离学校远",
        budget="1000-1500万",
        unit_type="双拼 280㎡",
    )
    set_alt_phone(customer, "13700001111")
    customer.save()
    for text in ("电话沟通：张先生说下周带太太来", "微信：发了户型图"):
        FollowUp.create(
            customer=customer, author=rep, kind="call", reached=True, content=text, result="约看房"
        )
    Visit.create(customer=customer, received_by=rep, rep=rep, note="和太太一起来的", is_first=True)
    OutboxMessage.create(customer=customer, kind="approval", body="张三丰您好，您的登记已完成审核。")
    link = CorrectionLink.create(
        customer=customer, nonce="n" * 64, created_by=rep, expires_at=now() + timedelta(hours=1)
    )
    ChangeRequest.create(customer=customer, link=link, changes=json.dumps({"phone": "13811112222"}))
    Dispute.create(customer=customer, claimant=make_user("rep"), owner=rep, reason="张三丰上周先找的我")
    AuditLog.create(
        actor=rep,
        action="field_changed",
        customer=customer,
        changes=json.dumps({"name": ["张三", "张三丰"], "budget": ["800-1000万", "1000-1500万"]}),
    )
    for field, old, new in (
        ("broker_agency", "徐汇置业中介", "衡山地产经纪行"),
        ("competing_projects", "滨江一号", "湖畔壹号、西山别墅"),
        ("referrer_name", "李四的同事", "李四"),
    ):
        AuditLog.on_customer(customer, rep, "field_changed", {field: [old, new]})
    AuditLog.on_customer(
        customer, rep, "stage_changed", {"stage": ["visited", "lost"], "lost_reason": "太太嫌离学校远"}
    )
    return idle(customer, years(3) + 1)


# ---- The dry run and the real run ----


def test_dry_run_lists_exactly_what_the_real_run_changes_and_changes_nothing(
    make_user, make_customer, full_record
):
    rep = make_user("rep")
    stale = [idle(make_customer(owner=rep, stage=stage), years(3) + 5) for stage in ("registered", "lost")]
    recent = idle(make_customer(owner=rep), years(3) - 1)
    signed = idle(make_customer(owner=rep, stage="signed"), years(5))
    already = anonymise(idle(make_customer(owner=rep), years(4)), None, "retention")
    everyone = [full_record, *stale, recent, signed, already]
    before = snapshot(c.id for c in everyone)
    audit_rows = AuditLog.select().count()

    report = run_retention(apply=False)

    expected = sorted([full_record.id, *(c.id for c in stale)])
    assert [row[0] for row in report] == expected
    assert report == retention_report()
    row = report[0]
    assert row[1:] == (
        office_day(full_record.registered_at),
        office_day(full_record.last_activity_at),
        "lost",
    )
    assert snapshot(c.id for c in everyone) == before
    assert AuditLog.select().count() == audit_rows
    assert FollowUp.select().where(FollowUp.content == REMOVED).count() == 0

    done = run_retention(apply=True)

    assert [row[0] for row in done] == expected
    changed = {cid for cid, columns in snapshot(c.id for c in everyone).items() if columns != before[cid]}
    assert changed == set(expected)
    assert run_retention(apply=True) == [] and retention_report() == []


def test_anonymising_removes_personal_data_and_keeps_the_aggregates(full_record, make_user):
    customer = full_record
    followups = FollowUp.select().where(FollowUp.customer == customer).count()

    run_retention(apply=True)

    fresh = reload(customer)
    assert fresh.name == f"已匿名#{customer.id}"
    assert fresh.anonymised_at is not None
    assert fresh.phone_index == f"{INDEX_PREFIX}{customer.id}"
    assert fresh.phone == "anonymised"
    for column in (
        Customer.alt_phone,
        Customer.alt_phone_index,
        Customer.id_number,
        Customer.id_index,
        Customer.address,
        Customer.wechat,
        Customer.payment_method,
        Customer.asset_band,
        Customer.credit_notes,
    ):
        assert raw_column(column, customer.id) is None, column.name
    typed = ("notes", "referrer_name", "broker_agency", "broker_name", "competing_projects", "lost_reason")
    assert {name: getattr(fresh, name) for name in typed} == dict.fromkeys(typed, "")
    # What the office analyses stays.
    kept = ("channel_id", "stage", "grade", "budget", "unit_type", "registered_at", "owner_id", "visit_type")
    assert {k: getattr(fresh, k) for k in kept} == {k: getattr(customer, k) for k in kept}
    assert FollowUp.select().where(FollowUp.customer == customer).count() == followups == 2
    assert {(f.content, f.result, f.reached) for f in fresh.followups} == {(REMOVED, "", True)}
    assert [v.note for v in fresh.visits] == [""]
    assert [m.body for m in fresh.messages] == [REMOVED]
    assert [d.reason for d in fresh.disputes] == [REMOVED]
    assert ChangeRequest.select().count() == 0 and CorrectionLink.select().count() == 0
    # Nobody finds the person any more: they register again as new.
    admin = make_user("admin")
    assert search_customers(admin, OLD_PHONE)[0] == []
    assert search_customers(admin, "13700001111")[0] == []
    assert search_customers(admin, OLD_ID)[0] == []
    assert search_customers(admin, "张三丰")[0] == []
    assert find_known(OLD_PHONE) is None
    assert find_known(id_number=OLD_ID) is None
    # The audit log says it happened, without what was removed.
    row = AuditLog.get(AuditLog.action == "anonymised")
    assert (row.customer_id, row.actor_id, row.change_map) == (customer.id, None, {"reason": "retention"})
    edits = [row.change_map for row in AuditLog.select().where(AuditLog.action == "field_changed")]
    assert edits == [
        {"name": "changed", "budget": ["800-1000万", "1000-1500万"]},
        {"broker_agency": "changed"},
        {"competing_projects": "changed"},
        {"referrer_name": "changed"},
    ]
    stage = AuditLog.get(AuditLog.action == "stage_changed")
    assert stage.change_map == {"stage": ["visited", "lost"], "lost_reason": REMOVED}
    dump = " ".join(a.changes for a in AuditLog.select())
    assert "张三" not in dump


# What full_record typed about the person, from the customer row, its audit rows, follow-ups, visit
# and dispute.
REMOVED_TEXTS = (
    "张三丰",
    "衡山路",
    "zhangsf88",
    "征信良好",
    "附近上学",
    "带太太来",
    "一起来的",
    "先找的我",
    "衡山地产",
    "徐汇置业",
    "湖畔壹号",
    "滨江一号",
    "李四的同事",
    "离学校远",
)


def test_anonymising_leaves_no_trace_in_the_sqlite_file_or_its_wal(full_record, app):
    """Overwritten rows are zeroed (secure_delete) and the WAL's old page images are emptied."""
    if not is_sqlite():
        pytest.skip("PostgreSQL keeps dead rows until autovacuum; the file check is SQLite's")
    path = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    files = lambda: [p for p in (path, Path(f"{path}-wal")) if p.exists()]  # noqa: E731
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the record as written, now in the file itself
    assert any("张三丰".encode() in p.read_bytes() for p in files())

    run_retention(apply=True)

    for text in REMOVED_TEXTS:
        found = [p.name for p in files() if text.encode() in p.read_bytes()]
        assert not found, f"{text!r} still readable in {found}"


def test_every_field_typed_about_the_person_is_cleared():
    """A text field added to the registration or stage form must be added to what anonymising empties
    (and scrubs from the audit log): this test names it."""
    from wtforms import StringField, TextAreaField

    from villa.retention import CLEARED_COLUMNS, FREE_TEXT_COLUMNS, FREE_TEXT_KEYS
    from villa.web.clients.forms import StageForm
    from villa.web.reception.forms import RegistrationForm

    typed = {
        name
        for form in (RegistrationForm, StageForm)
        for name, unbound in vars(form).items()
        if getattr(unbound, "field_class", None) in (StringField, TextAreaField)
    }
    assert {"notes", "lost_reason", "competing_projects", "broker_agency"} <= typed
    cleared = {column.name for column in (*CLEARED_COLUMNS, *FREE_TEXT_COLUMNS)} | {"name", "phone"}
    # The deal's facts on the stage form (villa.deals) describe the unit sold, not the person: they
    # stay as the office's sales record beside the anonymised customer.
    deal_facts = {"unit_number", "area", "price", "deal_date"}
    assert typed - cleared - deal_facts == set()
    assert {column.name for column in FREE_TEXT_COLUMNS} <= set(FREE_TEXT_KEYS)


def test_anonymised_customer_page_shows_no_personal_data(full_record, login_as):
    run_retention(apply=True)
    for role in ("admin", "manager"):
        html = login_as(role).get(f"/customers/{full_record.id}").get_data(as_text=True)
        assert 'data-testid="anonymised-notice"' in html
        for secret in ("张三丰", "衡山路", "上学", "李四", "下周带太太", "1391234"):
            assert secret not in html, (role, secret)
        assert 'data-testid="erasure"' not in html


def test_retention_years_setting_and_one_year_is_365_days(make_customer, make_user):
    rep = make_user("rep")
    two_years = idle(make_customer(owner=rep), years(2) + 1)
    Setting.write("retention_years", 2)
    assert [row[0] for row in retention_report()] == [two_years.id]
    Setting.write("retention_years", 0)  # a slip must not anonymise everyone: at least a year
    idle(make_customer(owner=rep), 30)
    assert [row[0] for row in retention_report()] == [two_years.id]
    Setting.write("retention_years", 3)
    assert retention_report() == []


def test_bulk_run_over_thousands_of_customers(make_user, make_customer, capsys):
    rep = make_user("rep")
    template = make_customer(owner=rep, notes="备注", address="北京市朝阳区建国路88号")
    data = {f.name: getattr(template, f.name) for f in Customer._meta.sorted_fields if f.name != "id"}
    data["last_activity_at"] = now() - timedelta(days=years(4))
    rows = [{**data, "phone_index": f"bulk-{i}"} for i in range(5000)]
    with db.atomic():
        for start in range(0, len(rows), 100):
            Customer.insert_many(rows[start : start + 100]).execute()
    ids = [c.id for c in Customer.select(Customer.id).where(Customer.phone_index.startswith("bulk-"))]
    followups = [
        {"customer": cid, "author": rep.id, "kind": "call", "content": "客户说住在附近"} for cid in ids
    ]
    with db.atomic():
        for start in range(0, len(followups), 100):
            FollowUp.insert_many(followups[start : start + 100]).execute()

    started = time.perf_counter()
    done = run_retention(apply=True)
    seconds = time.perf_counter() - started

    with capsys.disabled():
        print(f"\n[retention] anonymised {len(done)} customers in {seconds:.2f}s")
    assert len(done) == 5000
    assert Customer.select().where(Customer.anonymised_at.is_null(False)).count() == 5000
    assert FollowUp.select().where(FollowUp.content == REMOVED).count() == 5000
    assert AuditLog.select().where(AuditLog.action == "anonymised").count() == 5000
    sample = Customer.get_by_id(ids[-1])
    assert (sample.name, sample.phone_index, sample.address) == (
        f"已匿名#{ids[-1]}",
        f"anon:{ids[-1]}",
        None,
    )


# ---- 报备: with their customer, or past retention when the person never came ----


def make_report(creator, name, phone, expired_days_ago, customer=None, status="expired"):
    """A broker's 报备 with the full phone, its validity ended `expired_days_ago` days ago."""
    agency = Agency.get_or_none(Agency.name == "链家") or Agency.create(name="链家")
    broker = Broker.get_or_none(Broker.agency == agency) or Broker.create(agency=agency, name="赵经纪")
    ended = now() - timedelta(days=expired_days_ago)
    return Report.create(
        broker=broker,
        agency=agency,
        customer_name=name,
        surname=name[0],
        phone="+86" + phone,
        phone_index=blind_index("phone", "+86" + phone),
        phone_mask=f"{phone[:3]}****{phone[-4:]}",
        expected_visit=(ended - timedelta(days=7)).date(),
        reported_at=ended - timedelta(days=7),
        valid_until=ended,
        status=status,
        customer=customer,
        created_by=creator,
    )


def report_columns(report):
    return (
        raw_column(Report.phone, report.id),
        *[
            stored(column, report.id)
            for column in (Report.customer_name, Report.surname, Report.phone_index, Report.phone_mask)
        ],
    )


def test_a_reports_name_and_phone_go_with_its_customers(full_record, make_user):
    confirmed = make_report(make_user("manager"), "张三丰", OLD_PHONE, years(4), full_record, "confirmed")

    run_retention(apply=True)

    assert report_columns(confirmed) == (None, REMOVED, "", None, "")
    fresh = Report.get_by_id(confirmed.id)
    assert fresh.anonymised_at is not None and fresh.status == "confirmed" and fresh.agency.name == "链家"
    assert find_report(OLD_PHONE, "张三丰") is None


def test_reports_of_people_who_never_came_lose_name_and_phone_past_retention(make_user, runner, login_as):
    creator = make_user("manager")
    lapsed = make_report(creator, "孙不来", "13600001111", years(3) + 1)
    recent = make_report(creator, "周还早", "13600002222", years(3) - 1)
    before = report_columns(recent)
    assert anonymise_lapsed_reports() == [lapsed.id]  # the dry run changes nothing
    assert report_columns(lapsed)[1:] == (
        "孙不来",
        "孙",
        blind_index("phone", "+8613600001111"),
        "136****1111",
    )
    assert 'data-testid="lapsed-report-count" data-count="1"' in login_as("admin").get(
        "/admin/retention"
    ).get_data(as_text=True)
    assert "1 pre-registrations to anonymise" in runner.invoke(args=["retention"]).output

    result = runner.invoke(args=["daily"])

    assert "retention: 0 anonymised, 0 archived, 1 pre-registrations anonymised" in result.output.splitlines()
    assert report_columns(lapsed) == (None, REMOVED, "", None, "")
    assert Report.get_by_id(lapsed.id).anonymised_at is not None
    assert report_columns(recent) == before and Report.get_by_id(recent.id).anonymised_at is None
    assert find_report("13600001111", "孙不来") is None and find_report("13600002222", "周还早") is not None
    row = AuditLog.get(AuditLog.action == "reports_anonymised")
    assert row.change_map == {"anonymised": 1, "reason": "retention"} and "孙" not in row.changes
    assert anonymise_lapsed_reports() == []  # once


# ---- Signed customers: never anonymised, archived read-only ----


def test_signed_customers_are_archived_after_90_days_not_anonymised(make_user, make_customer, login):
    rep = make_user("rep")
    old_signed = idle(make_customer(owner=rep, stage="signed", name="赵签约"), years(10))
    fresh_signed = idle(make_customer(owner=rep, stage="signed"), 89)
    other = idle(make_customer(owner=rep, stage="subscribed"), 200)

    assert archive_signed() == [old_signed.id]
    assert reload(old_signed).archived_at is None  # the report changes nothing
    assert retention().line == "retention: 0 anonymised, 1 archived, 0 pre-registrations anonymised"

    archived = reload(old_signed)
    assert archived.archived_at is not None and archived.anonymised_at is None
    assert archived.name == "赵签约"
    assert reload(fresh_signed).archived_at is None and reload(other).archived_at is None
    assert AuditLog.get(AuditLog.action == "archived").customer_id == old_signed.id
    assert retention().line == "retention: 0 anonymised, 0 archived, 0 pre-registrations anonymised"

    owner = login(rep)
    response = owner.post(
        f"/customers/{old_signed.id}/followups", {"kind": "call", "content": "回访"}, htmx=True
    )
    assert response.status_code == 403
    assert FollowUp.select().where(FollowUp.customer == old_signed.id).count() == 0
    html = owner.get(f"/customers/{old_signed.id}").get_data(as_text=True)
    assert 'data-testid="archived-notice"' in html
    assert 'data-testid="read-only"' in html


# ---- Individual erasure (PIPL request) ----


def erase(session, customer, **fields):
    data = {"reason": "客户来电要求删除个人信息", "confirm": str(customer.id)} | fields
    return session.post(f"/admin/customers/{customer.id}/erase", data)


def test_admin_erases_a_customer_at_once(make_user, make_customer, login_as):
    customer = make_customer(owner=make_user("rep"), phone=OLD_PHONE, notes="住衡山路")
    admin = login_as("admin")
    page = admin.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert 'data-testid="erasure"' in page

    response = erase(admin, customer)

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/customers/{customer.id}")
    fresh = reload(customer)
    assert fresh.anonymised_at is not None and fresh.notes == "" and find_known(OLD_PHONE) is None
    row = AuditLog.get(AuditLog.action == "anonymised")
    assert row.actor_id == admin.user.id
    assert row.change_map == {"reason": "erasure request: 客户来电要求删除个人信息"}
    assert reload(customer).registered_at == customer.registered_at


@pytest.mark.parametrize(
    "fields, error",
    [
        (lambda c: {"reason": "  "}, "error-reason"),
        (lambda c: {"confirm": ""}, "error-confirm"),
        (lambda c: {"confirm": str(c.id + 1)}, "error-confirm"),
    ],
    ids=["no reason", "no number", "another number"],
)
def test_erasure_needs_a_reason_and_the_customer_number(make_customer, login_as, fields, error):
    customer = make_customer()
    response = erase(login_as("admin"), customer, **fields(customer))
    assert response.status_code == 422
    assert f'data-testid="{error}"' in response.get_data(as_text=True)
    assert reload(customer).anonymised_at is None


def test_erasure_is_refused_for_signed_customers(make_customer, login_as):
    customer = make_customer(stage="signed", name="赵签约")
    admin = login_as("admin")
    assert 'data-testid="erasure"' in admin.get(f"/customers/{customer.id}").get_data(as_text=True)
    section = admin.htmx_get(f"/customers/{customer.id}/erasure").get_data(as_text=True)
    assert 'data-testid="erasure-signed"' in section
    response = erase(admin, customer)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="erasure-refused"' in html
    assert reload(customer).anonymised_at is None and reload(customer).name == "赵签约"


@pytest.mark.parametrize("role", ["reception", "rep", "manager", "auditor"])
def test_only_admins_erase(make_customer, login_as, role):
    customer = make_customer()
    assert erase(login_as(role), customer).status_code == 403
    assert reload(customer).anonymised_at is None


def test_erasure_of_an_anonymised_customer_is_refused(make_customer, login_as):
    customer = anonymise(make_customer(), None, "retention")
    assert erase(login_as("admin"), customer).status_code == 422


# ---- The admin page ----


def test_admin_page_shows_the_report_and_runs_it_with_the_count_confirmed(make_user, make_customer, login_as):
    rep = make_user("rep")
    stale = [idle(make_customer(owner=rep, name="钱多多"), years(4)) for _ in range(3)]
    idle(make_customer(owner=rep, stage="signed"), 100)
    admin = login_as("admin")

    html = admin.get("/admin/retention").get_data(as_text=True)
    assert html.count('data-testid="retention-row"') == 3
    assert 'data-testid="run-retention"' in html
    assert "钱多多" not in html
    assert 'data-testid="archive-count" data-count="1"' in html
    assert 'data-testid="lapsed-report-count" data-count="0"' in html
    assert 'href="/admin/retention"' in admin.get("/admin/").get_data(as_text=True)

    wrong = admin.post("/admin/retention", {"confirm": "2"})
    assert wrong.status_code == 422
    assert 'data-testid="error-confirm"' in wrong.get_data(as_text=True)
    assert all(reload(c).anonymised_at is None for c in stale)

    done = admin.post("/admin/retention", {"confirm": "3"})
    assert done.status_code == 303
    assert all(reload(c).anonymised_at is not None for c in stale)
    assert reload(stale[0]).archived_at is None  # archiving is the nightly run's


@pytest.mark.parametrize("role", ["reception", "rep", "manager", "auditor"])
def test_admin_page_is_for_admins(login_as, role):
    session = login_as(role)
    assert session.get("/admin/retention").status_code == 403
    assert session.post("/admin/retention", {"confirm": "0"}).status_code == 403


# ---- The commands ----


def test_daily_prints_the_retention_line(runner, make_user, make_customer):
    stale = idle(make_customer(owner=make_user("rep")), years(4))
    result = runner.invoke(args=["daily"])
    assert result.exit_code == 0, result.output
    assert "retention: 1 anonymised, 0 archived, 0 pre-registrations anonymised" in result.output.splitlines()
    assert reload(stale).anonymised_at is not None


def test_retention_command_is_a_dry_run_unless_applied(runner, make_user, make_customer):
    rep = make_user("rep")
    stale = [idle(make_customer(owner=rep), years(4)) for _ in range(2)]
    signed = idle(make_customer(owner=rep, stage="signed"), 120)
    before = snapshot([*(c.id for c in stale), signed.id])

    dry = runner.invoke(args=["retention"])
    assert dry.exit_code == 0, dry.output
    assert "2 customers to anonymise" in dry.output and "1 signed customers to archive" in dry.output
    assert "0 pre-registrations to anonymise" in dry.output
    assert "nothing changed" in dry.output
    assert snapshot([*(c.id for c in stale), signed.id]) == before

    applied = runner.invoke(args=["retention", "--apply"])
    assert applied.exit_code == 0, applied.output
    assert applied.output.strip() == "retention: 2 anonymised, 1 archived, 0 pre-registrations anonymised"
    assert all(reload(c).anonymised_at for c in stale) and reload(signed).archived_at
