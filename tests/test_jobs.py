"""Jobs that report: `villa daily` and each of its steps leave a job-run row; the admin page shows the
last run and the newest backup's age (red past the limit); /healthz/ready tells a monitor."""

import re
from datetime import timedelta

import pytest

from villa.clock import OFFICE_UTC_OFFSET
from villa.jobs import RESTORE_TEST, daily_run, restore_test_due, run_step
from villa.models import JobRun, Setting, now, office_today

STEPS = [
    "pool_release",
    "retention",
    "report_expiry",
    "lookup_counters",
    "statistics",
    "backup",
    "digests",
    "notify_send",
]


@pytest.fixture
def folders(app, tmp_path):
    """The backup folder in this test's temporary folder."""
    app.config["BACKUP_DIR"] = str(tmp_path / "backups")
    return tmp_path


def runs(name=None):
    query = JobRun.select().order_by(JobRun.id)
    return list(query.where(JobRun.name == name) if name else query)


def test_a_daily_run_records_the_run_and_each_step_with_counts(runner, folders, make_user, make_customer):
    result = runner.invoke(args=["daily"])
    assert result.exit_code == 0, result.output
    (daily,) = runs("daily")
    assert daily.outcome == "ok" and daily.run is None
    assert daily.started_at <= daily.finished_at
    steps = runs()[1:]
    assert [s.name for s in steps] == [*STEPS, RESTORE_TEST]  # the first restore test is due at once
    assert all(s.run_id == daily.id and s.outcome == "ok" and s.finished_at for s in steps)
    by_name = {s.name: s for s in steps}
    assert by_name["pool_release"].count_map == {"released": 0}
    assert by_name["retention"].count_map == {"anonymised": 0, "archived": 0, "reports_anonymised": 0}
    assert by_name["backup"].count_map["copies"] == 1
    assert by_name[RESTORE_TEST].count_map["tables"] > 10
    assert "released 0 customers to the public pool" in result.output.splitlines()
    assert any(line.startswith("backup written: ") for line in result.output.splitlines())


def test_a_failing_step_is_recorded_and_the_others_still_run(runner, folders, app):
    app.config["BACKUP_COPY_DIR"] = str(folders / "nas-not-mounted")
    result = runner.invoke(args=["daily"])
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("Error: daily: failed: backup (backup written: villa-")
    assert "is the NAS or USB disk mounted?" in line
    (daily,) = runs("daily")
    assert daily.outcome == "failed" and daily.error == "failed: backup"
    by_name = {s.name: s for s in runs()[1:]}
    assert by_name["backup"].outcome == "failed"
    assert "nas-not-mounted is missing" in by_name["backup"].error
    assert by_name["pool_release"].outcome == "ok" and by_name[RESTORE_TEST].outcome == "ok"
    assert len(list((folders / "backups").glob("villa-*.vbk"))) == 1, "the backup itself is kept"
    assert not (folders / "nas-not-mounted").exists(), "a missing copy folder is never created"


def test_a_step_error_keeps_no_personal_data(app):
    def leaky():
        raise ValueError("张三丰 13800138000")

    with app.app_context(), daily_run() as run:
        row = run_step("leaky", leaky)
        run_step("fine", lambda: {"done": 2})
    assert row.outcome == "failed" and row.error == "ValueError"
    assert "13800138000" not in "".join(r.error + r.summary for r in runs())
    assert JobRun.get_by_id(run.id).outcome == "failed"
    fine = runs("fine")[0]
    assert (fine.outcome, fine.count_map, fine.summary) == ("ok", {"done": 2}, "fine: done 2")


def _test_passed(days_ago: int):
    at = now() - timedelta(days=days_ago)
    JobRun.create(name=RESTORE_TEST, started_at=at, finished_at=at, outcome="ok")


def test_the_restore_test_is_weekly(app):
    today = office_today()
    Setting.write("restore_test_weekday", (today.weekday() + 3) % 7)
    with app.app_context():
        assert restore_test_due(today), "never run: due"
        _test_passed(3)
        assert not restore_test_due(today)
        Setting.write("restore_test_weekday", today.weekday())
        assert restore_test_due(today), "the set weekday"
        _test_passed(0)
        assert not restore_test_due(today), "passed today already"
        JobRun.delete().execute()
        Setting.write("restore_test_weekday", (today.weekday() + 3) % 7)
        _test_passed(8)
        assert restore_test_due(today), "more than 7 days since the last good one"


# The admin page and /healthz/ready, with the times set by the test.


def _daily(hours_ago: float, failed_step: str | None = None):
    started = now() - timedelta(hours=hours_ago)
    run = JobRun.create(name="daily", started_at=started, finished_at=started + timedelta(minutes=2))
    for name in STEPS:
        outcome = "failed" if name == failed_step else "ok"
        JobRun.create(name=name, run=run, started_at=started, finished_at=started, outcome=outcome)
    run.outcome = "failed" if failed_step else "ok"
    run.save()
    return run


def _backup_file(folder, hours_ago: float):
    made = now() - timedelta(hours=hours_ago) + OFFICE_UTC_OFFSET  # the name is in office time
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"villa-{made:%Y%m%d-%H%M%S}.vbk"
    path.write_bytes(b"VILLABK1")
    return path


def test_the_admin_page_shows_the_last_run_and_the_backup_age_in_red_after_26_hours(login_as, folders):
    admin = login_as("admin")
    _daily(3)
    recent = _backup_file(folders / "backups", 25)
    html = admin.get("/admin/").get_data(as_text=True)
    assert 'data-testid="daily-run" data-outcome="ok"' in html
    for step in ("step-pool_release", "step-retention", "step-backup"):
        assert f'data-testid="{step}" data-outcome="ok"' in html
    assert 'data-testid="backup-age" data-late="no" class="backup-age"' in html, "not red"
    recent.unlink()
    _backup_file(folders / "backups", 27)
    html = admin.get("/admin/").get_data(as_text=True)
    assert 'data-testid="backup-age" data-late="yes" class="late"' in html
    age = re.search(r'data-testid="backup-age"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert re.search(r"\b27\b", age) and "26" in age, age  # the hours, and the limit passed


def test_the_limit_is_a_setting(login_as, folders):
    _daily(3)
    _backup_file(folders / "backups", 27)
    Setting.write("backup_age_limit_hours", 30)
    html = login_as("admin").get("/admin/").get_data(as_text=True)
    assert 'data-testid="backup-age" data-late="no"' in html


def test_the_admin_home_shows_a_failed_step(login_as, folders):
    _daily(3, failed_step="backup")
    _backup_file(folders / "backups", 3)
    html = login_as("admin").get("/").get_data(as_text=True)
    assert 'data-testid="daily-run"' in html and 'data-outcome="failed"' in html
    assert 'data-testid="step-backup" data-outcome="failed"' in html


def ready(client):
    response = client.get("/healthz/ready")
    return response.status_code, response.get_data(as_text=True)


def test_ready_answers_503_until_a_daily_run_and_a_backup(client, folders):
    assert ready(client) == (503, "no daily run yet; no backup yet")
    _daily(2)
    assert ready(client) == (503, "no backup yet")
    _backup_file(folders / "backups", 2)
    assert ready(client) == (200, "ok")


def test_ready_turns_503_when_the_backup_is_old(client, folders):
    _daily(2)
    _backup_file(folders / "backups", 30)
    assert ready(client) == (503, "backup 30 hours old")
    Setting.write("backup_age_limit_hours", 48)
    assert ready(client) == (200, "ok")


def test_ready_turns_503_when_the_last_run_failed(client, folders):
    _daily(30)
    _daily(2, failed_step="backup")
    _backup_file(folders / "backups", 25)
    status, text = ready(client)
    assert (status, text) == (503, "last daily run failed: backup")
    _daily(1)
    assert ready(client) == (200, "ok")


def test_a_run_under_way_does_not_count_yet(client, folders):
    _daily(20)
    _backup_file(folders / "backups", 20)
    JobRun.create(name="daily", started_at=now() - timedelta(minutes=5))  # running now
    assert ready(client) == (200, "ok")
    JobRun.create(name="daily", started_at=now() - timedelta(hours=7))  # killed long ago
    JobRun.update(started_at=now() - timedelta(hours=7)).where(JobRun.outcome == "running").execute()
    assert ready(client) == (503, "last daily run did not finish")


def test_ready_needs_no_login_and_shows_no_personal_data(client, folders, make_customer):
    make_customer(name="张三丰", phone="13912345678")
    _daily(2, failed_step="retention")
    status, text = ready(client)
    assert status == 503 and "张三丰" not in text and "13912345678" not in text
    assert "Set-Cookie" not in client.get("/healthz/ready").headers


def test_the_admin_page_says_what_each_step_did_in_the_readers_language(runner, folders, login_as):
    assert runner.invoke(args=["daily"]).exit_code == 0
    admin = login_as("admin")
    admin.get("/lang/en")
    html = admin.get("/admin/").get_data(as_text=True)
    assert "0 customers released to the public pool" in html
    assert "backup of 0 customers; copies kept: 1" in html
    admin.get("/lang/zh_Hans")
    assert "0 位客户转入公客池" in admin.get("/admin/").get_data(as_text=True)
