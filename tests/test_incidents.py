"""The incident register: who was affected (from the access log, or a list of phones), the notice
to each of them in the outbox, the measures, the report and who was held responsible, the closing;
every step audited, the record exported to Excel (access-logged)."""

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from villa.clock import OFFICE_UTC_OFFSET
from villa.models import AccessLog, AuditLog, Incident, IncidentCustomer, OutboxMessage, now

NAMES = ["赵一", "钱二", "孙三", "李四", "周五", "吴六", "郑七"]


def office(moment) -> str:
    """A stored time as the form takes it (office clock, datetime-local)."""
    return f"{moment + OFFICE_UTC_OFFSET:%Y-%m-%dT%H:%M}"


@pytest.fixture
def auditor(login_as):
    return login_as("auditor")


def open_incident(session, what="一名置业顾问离职前查看了大量客户电话") -> Incident:
    response = session.post(
        "/incidents/new",
        {"what": what, "found_at": office(now() - timedelta(hours=1)), "suspected_scope": "该顾问可见客户"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return Incident.select().order_by(Incident.id.desc()).get()


def gather(session, incident, user, start, end):
    return session.post(
        f"/incidents/{incident.id}/gather", {"user": str(user.id), "start": office(start), "end": office(end)}
    )


def test_five_reveals_make_five_affected_customers_and_five_notices(login_as, make_customer, auditor):
    leaver = login_as("rep")
    customers = [make_customer(owner=leaver.user, name=name) for name in NAMES]
    for customer in customers[:5]:
        assert leaver.post(f"/customers/{customer.id}/reveal", htmx=True).status_code == 200
    # Not theirs to count: a reveal before the window, and another user's reveal in it.
    old = leaver.post(f"/customers/{customers[5].id}/reveal", htmx=True)
    assert old.status_code == 200
    AccessLog.update(at=now() - timedelta(days=30)).where(AccessLog.customer == customers[5].id).execute()
    other = login_as("rep")
    stranger = make_customer(owner=other.user, name="王八")
    other.post(f"/customers/{stranger.id}/reveal", htmx=True)

    incident = open_incident(auditor)
    response = gather(auditor, incident, leaver.user, now() - timedelta(days=1), now() + timedelta(minutes=5))
    assert response.status_code == 303
    found = {
        row.customer_id for row in IncidentCustomer.select().where(IncidentCustomer.incident == incident)
    }
    assert found == {c.id for c in customers[:5]}
    page = auditor.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert 'data-testid="affected-count">5<' in page
    assert "赵一" not in page and "赵*" in page, "masked in the app"

    again = gather(auditor, incident, leaver.user, now() - timedelta(days=1), now() + timedelta(minutes=5))
    assert again.status_code == 303 and IncidentCustomer.select().count() == 5, "no one twice"

    assert auditor.post(f"/incidents/{incident.id}/notices").status_code == 303
    notices = list(OutboxMessage.select().where(OutboxMessage.kind == "incident"))
    assert len(notices) == 5
    assert {m.customer_id for m in notices} == found
    assert all(m.body.startswith(m.customer.name) and m.status == "to_send" for m in notices)
    assert auditor.post(f"/incidents/{incident.id}/notices").status_code == 303
    assert OutboxMessage.select().where(OutboxMessage.kind == "incident").count() == 5, "never twice"

    desk = login_as("reception").get("/outbox/").get_data(as_text=True)
    assert "赵*" in desk and "赵一" not in desk, "the outbox shows them masked"


def test_the_access_log_search_refuses_a_window_that_ends_before_it_starts(auditor, make_user):
    incident = open_incident(auditor)
    response = gather(auditor, incident, make_user("rep"), now(), now() - timedelta(days=1))
    assert response.status_code == 422
    assert 'data-testid="error-end"' in response.get_data(as_text=True)


def test_exports_of_a_list_are_named_as_unknown(auditor, login_as):
    manager = login_as("manager")
    assert manager.get("/customers/export.xlsx").status_code == 200
    incident = open_incident(auditor)
    response = gather(auditor, incident, manager.user, now() - timedelta(hours=1), now() + timedelta(hours=1))
    assert response.status_code == 303
    history = AuditLog.get(AuditLog.action == "incident_customers_added").change_map
    assert history["exports_without_customers"] == 1 and history["found"] == 0


def test_a_phone_list_adds_its_customers_and_reports_bad_lines_line_by_line(auditor, make_customer):
    first = make_customer(phone="13912340001")
    second = make_customer(phone="13912340002")
    second.alt_phone = None
    listed = "\n".join(
        [
            "139 1234 0001",  # line 1: first, typed with spaces
            "",  # blank: skipped
            "not a phone",  # line 3
            "+86 139-1234-0002",  # line 4: second
            "13912349999",  # line 5: a good number nobody has
            "12",  # line 6
            "13912340001",  # line 7: first again
        ]
    ).encode()
    incident = open_incident(auditor)
    response = auditor.post(
        f"/incidents/{incident.id}/phones",
        {"phones": (io.BytesIO(listed), "phones.txt")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422, "bad lines are reported"
    assert 'data-testid="bad-line-3"' in html and 'data-testid="bad-line-6"' in html
    assert 'data-testid="bad-line-1"' not in html and 'data-testid="bad-line-5"' not in html
    assert 'data-testid="not-found-lines"' in html and ">5<" not in html
    assert {r.customer_id for r in IncidentCustomer.select()} == {first.id, second.id}
    assert "13912349999" not in html and "13912340001" not in html, "the numbers are not shown back"
    details = AuditLog.get(AuditLog.action == "incident_customers_added").change_map
    assert details == {
        "source": "phone_list", "lines": 6, "bad_lines": 2, "found": 2, "not_found": 1, "added": 2,
    }  # fmt: skip


def test_a_phone_list_in_gbk_with_a_second_phone(auditor, make_customer):
    from villa.customers import set_alt_phone

    customer = make_customer(phone="13912340003")
    set_alt_phone(customer, "13812340004")
    customer.save()
    incident = open_incident(auditor)
    response = auditor.post(
        f"/incidents/{incident.id}/phones",
        {"phones": (io.BytesIO("电话\n13812340004\n".encode("gb18030")), "名单.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422  # the header line is reported
    assert [r.customer_id for r in IncidentCustomer.select()] == [customer.id]


def test_the_record_needs_both_when_and_to_whom_and_closing_needs_measures(auditor):
    incident = open_incident(auditor)
    closing = auditor.post(f"/incidents/{incident.id}/close")
    assert closing.status_code == 422 and Incident.get_by_id(incident.id).closed_at is None
    half = auditor.post(
        f"/incidents/{incident.id}/record", {"measures": "", "reported_at": office(now()), "reported_to": ""}
    )
    assert half.status_code == 422 and 'data-testid="error-reported_to"' in half.get_data(as_text=True)
    full = {
        "measures": "停用该账号，重置全部共享密码，逐一致电客户致歉",
        "reported_at": office(now() - timedelta(minutes=10)),
        "reported_to": "市网信办",
        "responsible": "置业顾问某某：解除劳动合同",
    }
    assert auditor.post(f"/incidents/{incident.id}/record", full).status_code == 303
    assert auditor.post(f"/incidents/{incident.id}/close").status_code == 303
    closed = Incident.get_by_id(incident.id)
    assert closed.closed_at and closed.reported_to == "市网信办" and closed.responsible.startswith("置业顾问")
    assert auditor.post(f"/incidents/{incident.id}/notices").status_code == 422, "a closed record stays"
    actions = [e.action for e in AuditLog.select().where(AuditLog.target == f"incident:{incident.id}")]
    assert actions == ["incident_opened", "incident_recorded", "incident_closed"]


def test_the_record_exports_to_excel_masked_neutralised_and_logged(auditor, login_as, make_customer):
    leaver = login_as("rep")
    customer = make_customer(owner=leaver.user, name="赵一", phone="13912340005")
    leaver.post(f"/customers/{customer.id}/reveal", htmx=True)
    incident = open_incident(auditor, what='=HYPERLINK("http://evil.example","点我")')
    gather(auditor, incident, leaver.user, now() - timedelta(hours=1), now() + timedelta(hours=1))
    auditor.post(f"/incidents/{incident.id}/notices")

    response = auditor.get(f"/incidents/{incident.id}/export.xlsx")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["事件", "受影响客户", "处理记录"]
    facts = {row[0]: row[1] for row in book["事件"].iter_rows(values_only=True)}
    assert facts["事件经过"].startswith("'=HYPERLINK"), "a formula stays text"
    people = list(book["受影响客户"].iter_rows(values_only=True))
    assert people[1][:3] == (customer.id, "赵*", "139****0005") and people[1][5] == "待人工发送"
    everything = " ".join(
        str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
    )
    assert "13912340005" not in everything and "赵一" not in everything
    steps = [row[2] for row in book["处理记录"].iter_rows(values_only=True)]
    assert steps == ["步骤", "登记事件", "加入受影响客户", "生成告知短信"]
    (logged,) = AccessLog.select().where(AccessLog.action == "export")
    assert (logged.actor_id, logged.fields) == (auditor.user.id, f"incident:{incident.id}")
    assert AuditLog.get(AuditLog.action == "incident_exported").target == f"incident:{incident.id}"


def test_opening_refuses_a_time_in_the_future_at_the_field(auditor):
    response = auditor.post(
        "/incidents/new", {"what": "x", "found_at": office(now() + timedelta(days=1)), "suspected_scope": ""}
    )
    assert response.status_code == 422 and 'data-testid="error-found_at"' in response.get_data(as_text=True)
    missing = auditor.post("/incidents/new", {"what": "", "found_at": ""})
    html = missing.get_data(as_text=True)
    assert (
        missing.status_code == 422
        and 'data-testid="error-what"' in html
        and 'data-testid="error-found_at"' in html
    )
    assert Incident.select().count() == 0


def test_the_notice_template_is_checked_at_the_field(auditor):
    incident = open_incident(auditor)
    bad = auditor.post(f"/incidents/{incident.id}/notice", {"message_template": "{name}{phone}"})
    assert bad.status_code == 422 and 'data-testid="error-message_template"' in bad.get_data(as_text=True)
    good = auditor.post(f"/incidents/{incident.id}/notice", {"message_template": "{name}您好，抱歉。"})
    assert (
        good.status_code == 303 and Incident.get_by_id(incident.id).message_template == "{name}您好，抱歉。"
    )


@pytest.mark.parametrize("role", ["reception", "rep", "manager"])
def test_only_the_audit_team_and_the_admin_keep_the_register(login_as, auditor, role):
    incident = open_incident(auditor)
    session = login_as(role)
    assert session.get("/incidents/").status_code == 403
    assert session.get(f"/incidents/{incident.id}").status_code == 403
    assert session.get(f"/incidents/{incident.id}/export.xlsx").status_code == 403
    assert session.post(f"/incidents/{incident.id}/close").status_code == 403
    assert session.post("/incidents/new", {"what": "x", "found_at": office(now())}).status_code == 403


def test_the_admin_keeps_it_too(login_as):
    admin = login_as("admin")
    assert admin.get("/incidents/").status_code == 200
    open_incident(admin)
    assert 'data-testid="incident-1"' in admin.get("/incidents/").get_data(as_text=True)
