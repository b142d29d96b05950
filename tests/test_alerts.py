"""Alerts for the audit team (监督): a user whose reveals, lookups or exports in an office day pass the
office's threshold, and every audit-log row whose action starts with "alert_", on the auditor's home
and in the log viewer."""

import json
from datetime import timedelta

import pytest

from villa.models import AccessLog, AuditLog, Setting, now, office_day_start, office_today


@pytest.fixture
def office(make_user, make_customer):
    manager = make_user("manager")
    rep = make_user("rep", manager=manager, username="curious", display_name="好奇的同事")
    others = [
        make_customer(
            owner=make_user("rep", manager=make_user("manager")),
            phone=f"1371234{n:04d}",
            registered_at=office_day_start() - timedelta(hours=1),
        )
        for n in range(4)
    ]
    own = make_customer(owner=rep, phone="13912345678")
    return {"rep": rep, "manager": manager, "others": others, "own": own}


def test_reveals_past_the_threshold_alert_the_audit_team(office, login, make_user):
    Setting.write("alert_reveals_per_day", 2)
    rep = login(office["rep"])
    for _ in range(3):
        assert rep.post(f"/customers/{office['own'].id}/reveal", htmx=True).status_code == 200
    [alert] = AuditLog.select().where(AuditLog.action == "alert_many_reveals")
    assert alert.actor_id == office["rep"].id and alert.change_map == {"count": 3, "threshold": 2}
    rep.post(f"/customers/{office['own'].id}/reveal", htmx=True)
    assert AuditLog.select().where(AuditLog.action == "alert_many_reveals").count() == 1, "once a day"

    html = login(make_user("auditor")).get("/").get_data(as_text=True)
    row = html.split('data-testid="unusual-curious"', 1)[1].split("</tr>", 1)[0]
    assert "好奇的同事" in row and 'data-testid="over-reveal">4<' in row
    today = office_today().isoformat()
    assert f"/logs/?tab=access&amp;user={office['rep'].id}&amp;date_from={today}&amp;date_to={today}" in row
    alerts = html.split('data-testid="alerts"', 1)[1]
    assert 'data-testid="alert-alert_many_reveals"' in alerts
    assert "好奇的同事 (curious) 今天查看完整号码 3 次" in alerts


def test_lookups_past_the_threshold_show_with_counts_and_times(office, login, make_user):
    Setting.write("alert_lookups_per_day", 3)
    rep = login(office["rep"])
    for customer in office["others"]:
        rep.htmx_get("/customers/", query_string={"q": customer.phone})
    assert AccessLog.select().where(AccessLog.action == "lookup").count() == 4
    html = login(make_user("auditor")).get("/").get_data(as_text=True)
    row = html.split('data-testid="unusual-curious"', 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="over-lookup">4<' in row
    first, last = AccessLog.select().order_by(AccessLog.id)[0], AccessLog.select().order_by(AccessLog.id)[-1]
    for moment in (first.at, last.at):
        assert (moment + timedelta(hours=8)).strftime("%H:%M") in row
    assert 'data-testid="alert-alert_many_lookups"' in html


def test_below_every_threshold_nobody_is_listed(office, login, make_user):
    rep = login(office["rep"])
    rep.post(f"/customers/{office['own'].id}/reveal", htmx=True)
    html = login(make_user("auditor")).get("/").get_data(as_text=True)
    assert 'data-testid="unusual-curious"' not in html
    assert 'data-testid="unusual-activity"' in html


def test_exports_past_the_threshold(office, login, make_user):
    Setting.write("alert_exports_per_day", 1)
    manager = login(office["manager"])
    for _ in range(2):
        assert manager.get("/customers/export.xlsx").status_code == 200
    assert AuditLog.select().where(AuditLog.action == "alert_many_exports").count() == 1
    html = login(make_user("auditor")).get("/").get_data(as_text=True)
    assert 'data-testid="over-export">2<' in html


def write_alert(action, user=None, **details):
    return AuditLog.create(
        actor=user, action=action, target=f"user:{user.id}" if user else "user:?", changes=json.dumps(details)
    )


def test_every_alert_row_shows_in_words_on_the_auditor_home(office, login, make_user):
    write_alert("alert_account_locked", office["rep"])
    write_alert("alert_lookup_limit", office["rep"], period="minute", limit=30)
    write_alert("alert_something_new", office["rep"])
    old = write_alert("alert_account_locked", office["manager"])
    AuditLog.update(at=now() - timedelta(days=2)).where(AuditLog.id == old.id).execute()
    html = login(make_user("auditor")).get("/").get_data(as_text=True)
    alerts = html.split('data-testid="alerts"', 1)[1]
    assert "好奇的同事 (curious) 的账号因多次输错密码被锁定" in alerts
    assert "好奇的同事 (curious) 已达到精确查询上限（每分钟 30 次）" in alerts
    assert "提醒（something_new）：好奇的同事 (curious)" in alerts
    assert office["manager"].username not in alerts, "yesterday's alerts are in the log viewer"


def test_alert_text_is_escaped(login, make_user):
    sneaky = make_user("rep", display_name="<i hx-post=/logout hx-trigger=load>x</i>")
    write_alert("alert_lookup_limit", sneaky, period="day", limit="<b>300</b>")
    auditor = login(make_user("auditor"))
    for html in (
        auditor.get("/").get_data(as_text=True),
        auditor.get("/logs/?tab=alerts").get_data(as_text=True),
    ):
        assert "<i hx-post" not in html and "<b>300" not in html
        assert "&lt;i hx-post=/logout" in html


def test_the_log_viewer_lists_alerts(office, login, make_user):
    write_alert("alert_account_locked", office["rep"])
    write_alert("alert_lookup_limit", office["rep"], period="day", limit=300)
    AuditLog.create(actor=office["rep"], action="field_changed", target="customer:1", changes="{}")
    for role in ("auditor", "admin"):
        page = login(make_user(role)).get("/logs/?tab=alerts")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert html.count('data-testid="log-row"') == 2
        assert "好奇的同事 (curious) 的账号因多次输错密码被锁定" in html
        assert "每天 300 次" in html
        assert 'data-testid="tab-alerts"' in html
    assert login(make_user("manager")).get("/logs/?tab=alerts").status_code == 403


def test_only_the_audit_team_sees_alerts_at_home(office, login, make_user):
    write_alert("alert_account_locked", office["rep"])
    for role in ("manager", "admin", "rep", "reception"):
        html = login(make_user(role)).get("/").get_data(as_text=True)
        assert 'data-testid="alerts"' not in html and "锁定" not in html


def test_lookups_show_in_the_access_log(office, login, make_user):
    rep = login(office["rep"])
    rep.htmx_get("/customers/", query_string={"q": office["others"][0].phone})
    html = login(make_user("auditor")).get("/logs/?tab=access&action=lookup").get_data(as_text=True)
    assert html.count('data-testid="log-row"') == 1
    assert "查询" in html.split('data-testid="log-action"', 1)[1][:40]
