"""The demo's records of running the office: the nightly job (a failed night, then a finished run),
one closed incident, and the confidentiality rules every demo user has accepted (so the demo
logins go straight in)."""

import json
from datetime import timedelta

from villa import incidents, pledge
from villa.clock import now, office_day_start
from villa.daily import backup, refresh_statistics, weekly_restore_test
from villa.db import db
from villa.jobs import RESTORE_TEST, daily_run, run_step
from villa.messaging import mark_sent
from villa.models import AccessLog, AuditLog, Customer, Incident, JobRun, PledgeAcceptance, PledgeText, User


def add_records(users: dict[str, User]):
    """After the demo's customers are committed: pledges, an incident, then the job runs."""
    with db.connection_context():
        with db.atomic():
            _pledges(users)
            _incident(users)
            _failed_night()
        _finished_run()


def _pledges(users: dict[str, User]):
    rules = pledge.publish(pledge.STARTING_TEXT, users["admin"])
    published = office_day_start() - timedelta(days=40) + timedelta(hours=10)  # 10:00 office time
    PledgeText.update(created_at=published).where(PledgeText.id == rules.id).execute()
    for n, user in enumerate(users.values()):  # each at their first login after it, in the morning
        accepted = pledge.accept(user, rules.id, f"192.168.1.{20 + n}")
        moment = published + timedelta(days=1 + n % 5, minutes=-50 + 11 * n)
        PledgeAcceptance.update(accepted_at=moment).where(PledgeAcceptance.id == accepted.id).execute()
    _backdate(lambda entry: entry.target == f"pledge:{rules.id}", published, step=timedelta(hours=20))


def _incident(users: dict[str, User]):
    """A tablet left open at the desk: the customers its user revealed, told and apologised to."""
    found = office_day_start() - timedelta(days=20) + timedelta(hours=11)
    rep = users["rep2"]
    seen = list(Customer.select().where(Customer.owner == rep).order_by(Customer.id).limit(3))
    for n, customer in enumerate(seen):
        AccessLog.create(
            actor=rep, action="reveal", customer=customer, fields="phone", ip="192.168.1.31",
            at=found - timedelta(minutes=40 - 10 * n),
        )  # fmt: skip
    auditor = users["auditor"]
    what = "前台平板电脑在展厅无人看管约20分钟，屏幕停留在客户页面，期间有访客在旁。"
    incident = incidents.open_incident(what, found, "该平板当时登录账号查看过的客户", auditor)
    incidents.gather_from_access_log(incident, rep, found - timedelta(hours=2), found, auditor)
    incidents.draft_notices(incident, auditor)
    for entry in incidents.affected(incident):
        mark_sent(entry.message, users["reception"])
    incidents.record(
        incident,
        {
            "measures": (
                "当即锁定平板并修改该账号密码；核查访问日志，确认3位客户的电话被显示；"
                "逐一短信告知并致电致歉，提醒客户警惕诈骗电话；平板设置2分钟自动锁屏。"
            ),
            "reported_at": found + timedelta(days=1),
            "reported_to": "公司法务部、属地网信部门",
            "responsible": "置业顾问张伟：书面警告，重新参加保密培训",
        },
        auditor,
    )
    incidents.close(incident, auditor)
    # A step a day from half an hour after it was found: opened, gathered, told, recorded, closed.
    opened = found + timedelta(minutes=30)
    Incident.update(opened_at=opened, closed_at=opened + timedelta(days=4)).where(
        Incident.id == incident.id
    ).execute()
    _backdate(lambda entry: entry.target == f"incident:{incident.id}", opened, step=timedelta(days=1))


def _failed_night():
    """Two nights ago: the backup disk was full, so the run failed and said why."""
    started = office_day_start() - timedelta(days=2) + timedelta(hours=2)  # 02:00 office time
    run = JobRun.create(name="daily", started_at=started, outcome="failed", error="failed: backup")
    steps = (
        ("pool_release", "ok", "released 2 customers to the public pool", {"released": 2}, ""),
        (
            "retention",
            "ok",
            "retention: 0 anonymised, 1 archived, 0 pre-registrations anonymised",
            {"anonymised": 0, "archived": 1, "reports_anonymised": 0},
            "",
        ),
        ("statistics", "ok", "statistics refreshed", {}, ""),
        ("backup", "failed", "", {}, "[Errno 28] No space left on device"),
    )
    moment = started
    for name, outcome, summary, counts, error in steps:
        end = moment + timedelta(seconds=3)
        JobRun.create(
            name=name, run=run, started_at=moment, finished_at=end, outcome=outcome, summary=summary,
            counts=json.dumps(counts), error=error,
        )  # fmt: skip
        moment = end
    run.finished_at = moment
    run.save()


def _finished_run():
    """Now: the backup and the restore test of the nightly job, run for real on the demo data."""
    steps = (("statistics", refresh_statistics), ("backup", backup), (RESTORE_TEST, weekly_restore_test))
    with daily_run():
        for name, call in steps:
            run_step(name, call)


def _backdate(belongs, start, step):
    """Spread the audit rows of a demo record from `start` on, as the steps would have come."""
    entries = AuditLog.select().where(AuditLog.at >= now() - timedelta(hours=1)).order_by(AuditLog.id)
    for n, entry in enumerate(e for e in entries if belongs(e)):
        AuditLog.update(at=start + step * n).where(AuditLog.id == entry.id).execute()
