"""Backups kept sensibly: daily, weekly and monthly copies, a second copy on another disk written
and read back, and a clear message when that disk is not there."""

import os
import stat
from datetime import date, datetime, timedelta

import pytest

from tests.conftest import create_customer, create_user
from villa.backup import CopyFailed, Keeping, make_backup, prune, read_backup, retained
from villa.db import db
from villa.models import Setting


def _files(folder, days, start=date(2025, 1, 1), hour=2):
    """One (empty) backup file a day from `start`, named as villa names them (office time)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(days):
        moment = datetime.combine(start + timedelta(days=n), datetime.min.time()).replace(hour=hour)
        path = folder / f"villa-{moment:%Y%m%d-%H%M%S}.vbk"
        path.write_bytes(b"")
        made.append(path)
    return made


def _names(*days: str) -> set[str]:
    return {f"villa-{day.replace('-', '')}-020000.vbk" for day in days}


def test_the_newest_of_each_recent_day_week_and_month_are_kept(tmp_path):
    folder = tmp_path / "backups"
    _files(folder, (date(2026, 3, 15) - date(2025, 1, 1)).days + 1)  # 2025-01-01 .. 2026-03-15 (a Sunday)
    extra = folder / "villa-20260316-140000.vbk"  # "back up now" the next afternoon
    extra.write_bytes(b"")
    (folder / "notes.txt").write_text("not ours")
    (folder / "villa-copy.vbk").write_bytes(b"not ours either")

    deleted = prune(folder, Keeping(daily=14, weekly=8, monthly=12))

    daily = {f"villa-202603{d:02d}-020000.vbk" for d in range(3, 16)} | {extra.name}
    weekly = _names(
        "2026-03-15", "2026-03-08", "2026-03-01", "2026-02-22", "2026-02-15", "2026-02-08", "2026-02-01"
    )  # fmt: skip
    monthly = _names(
        "2026-02-28", "2026-01-31", "2025-12-31", "2025-11-30", "2025-10-31", "2025-09-30",
        "2025-08-31", "2025-07-31", "2025-06-30", "2025-05-31", "2025-04-30",
    )  # fmt: skip
    left = {p.name for p in folder.iterdir()}
    assert left == daily | weekly | monthly | {"notes.txt", "villa-copy.vbk"}
    assert len(daily) == 14 and len(weekly | {extra.name}) == 8 and len(monthly | {extra.name}) == 12
    assert folder / "villa-20260302-020000.vbk" in deleted and len(deleted) == 440 - 30


def test_every_backup_of_the_last_24_hours_is_kept(tmp_path):
    nightly, before_change, after_change, next_night = (
        tmp_path / f"villa-2026031{n}.vbk" for n in ("5-020000", "5-100000", "5-160000", "6-020000")
    )
    for path in (nightly, before_change, after_change, next_night):
        path.write_bytes(b"")
    assert retained([nightly, before_change, after_change, next_night], Keeping(1, 0, 0)) == {
        before_change,
        after_change,
        next_night,
    }, "the afternoon's backups outlive the night; the older nightly one is not the day's newest"


def test_of_two_days_ago_only_the_days_newest_is_kept(tmp_path):
    made = [tmp_path / f"villa-202603{stamp}.vbk" for stamp in ("13-020000", "13-150000", "15-020000")]
    for path in made:
        path.write_bytes(b"")
    assert retained(made, Keeping(daily=2, weekly=0, monthly=0)) == {made[1], made[2]}


def test_nothing_kept_weekly_or_monthly_keeps_the_days_only(tmp_path):
    made = _files(tmp_path, 40)
    assert retained(made, Keeping(daily=3, weekly=0, monthly=0)) == set(made[-3:])


def test_the_newest_backup_is_always_kept(tmp_path):
    made = _files(tmp_path, 2)
    assert retained(made, Keeping(daily=1, weekly=0, monthly=0)) == {made[-1]}


@pytest.fixture
def backups(app, tmp_path):
    """The app's context, with its backup folders in this test's temporary folder."""
    app.config["BACKUP_DIR"] = str(tmp_path / "backups")
    with app.app_context():
        create_customer(owner=create_user("rep"), name="张三丰", phone="13912345678")
        yield tmp_path
    if not db.is_closed():
        db.close()


def test_the_settings_decide_what_make_backup_keeps(backups):
    old = _files(backups / "backups", 30, start=date(2020, 1, 1))
    Setting.write("backups_daily", 2)
    Setting.write("backups_weekly", 0)
    Setting.write("backups_monthly", 1)
    info = make_backup()
    left = sorted(p.name for p in (backups / "backups").iterdir())
    assert left == sorted([old[-1].name, info.path.name])  # 2 days; the newest month's is the new one


def test_the_second_copy_is_written_read_back_and_private(backups, app):
    app.config["BACKUP_COPY_DIR"] = str(backups / "nas")
    (backups / "nas").mkdir()
    info = make_backup()
    assert info.copy == backups / "nas" / info.path.name
    assert info.copy.read_bytes() == info.path.read_bytes()
    assert stat.S_IMODE(info.copy.stat().st_mode) == 0o600
    assert not list((backups / "nas").glob(".villa-*")), "no partial file is left"
    (backups / "scratch").mkdir()
    header, _plain = read_backup(info.copy, backups / "scratch")
    assert header.customers == 1


def test_the_copy_folder_is_pruned_as_the_backup_folder(backups, app):
    app.config["BACKUP_COPY_DIR"] = str(backups / "nas")
    old = _files(backups / "nas", 5, start=date(2020, 1, 1))
    Setting.write("backups_daily", 2)
    Setting.write("backups_weekly", 0)
    Setting.write("backups_monthly", 0)
    info = make_backup()
    assert sorted(p.name for p in (backups / "nas").iterdir()) == sorted([old[-1].name, info.path.name])


def test_the_setting_names_the_copy_folder_when_the_environment_does_not(backups):
    (backups / "usb").mkdir()
    Setting.write("backup_copy_dir", str(backups / "usb"))
    assert make_backup().copy.parent == backups / "usb"


def test_a_missing_copy_folder_fails_clearly_and_keeps_the_backup(backups, app):
    app.config["BACKUP_COPY_DIR"] = str(backups / "nas")
    with pytest.raises(CopyFailed) as failed:
        make_backup()
    assert str(failed.value) == (
        f"backup written: {failed.value.info.path.name}; the copy folder {backups / 'nas'} is missing: "
        "is the NAS or USB disk mounted?"
    )
    assert failed.value.info.path.exists()
    assert not (backups / "nas").exists(), "never created: it would land on the local disk"


def test_a_copy_folder_that_is_a_file_fails_clearly(backups, app):
    (backups / "nas").write_text("")
    app.config["BACKUP_COPY_DIR"] = str(backups / "nas")
    with pytest.raises(CopyFailed, match="is not a folder"):
        make_backup()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_copy_folder_fails_clearly(backups, app):
    (backups / "nas").mkdir(mode=0o500)
    app.config["BACKUP_COPY_DIR"] = str(backups / "nas")
    with pytest.raises(CopyFailed, match="cannot write to the copy folder"):
        make_backup()


def test_a_copy_that_does_not_read_back_fails_and_is_removed(backups, app, monkeypatch):
    from villa.backup import commands, keeping

    def damaged_copy(source, folder):
        copy = keeping.copy_backup(source, folder)
        raw = bytearray(copy.read_bytes())
        raw[-5] ^= 0xFF  # a bad sector on the USB disk
        copy.write_bytes(bytes(raw))
        return copy

    monkeypatch.setattr(commands, "copy_backup", damaged_copy)
    app.config["BACKUP_COPY_DIR"] = str(backups / "usb")
    (backups / "usb").mkdir()
    with pytest.raises(CopyFailed, match="does not read back: backup is damaged"):
        make_backup()
    assert list((backups / "usb").iterdir()) == []
    assert len(list((backups / "backups").glob("villa-*.vbk"))) == 1


# The admin: the copy folder at the field, the backups page.


@pytest.fixture
def admin(login_as):
    session = login_as("admin")
    session.get("/lang/en")
    return session


BACKUPS = {
    "backups_daily": "14",
    "backups_weekly": "8",
    "backups_monthly": "12",
    "backup_age_limit_hours": "26",
    "restore_test_weekday": "6",
}


def test_a_usable_copy_folder_is_saved(admin, tmp_path):
    response = admin.post("/admin/settings/backups", {**BACKUPS, "backup_copy_dir": f" {tmp_path} "})
    assert response.status_code == 303
    assert Setting.read("backup_copy_dir") == str(tmp_path)


@pytest.mark.parametrize(
    "folder,message",
    [
        ("{tmp}/missing", "This folder does not exist. Is the NAS or USB disk mounted?"),
        ("{tmp}/file.txt", "This is a file, not a folder."),
        ("backups", "starting with /"),
    ],
)
def test_an_unusable_copy_folder_is_refused_at_the_field(admin, tmp_path, folder, message):
    (tmp_path / "file.txt").write_text("")
    response = admin.post(
        "/admin/settings/backups", {**BACKUPS, "backup_copy_dir": folder.format(tmp=tmp_path)}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="error-backup_copy_dir"' in html and message in html
    assert folder.format(tmp=tmp_path) in html, "the value typed is kept"
    assert Setting.read("backup_copy_dir") == ""


def test_the_backups_page_says_where_the_copies_go(admin, app, tmp_path):
    app.config["BACKUP_DIR"] = str(tmp_path / "backups")
    html = admin.get("/admin/backups").get_data(as_text=True)
    assert 'data-testid="copy-folder"' in html and "this machine only" in html
    (tmp_path / "nas").mkdir()
    Setting.write("backup_copy_dir", str(tmp_path / "nas"))
    html = admin.get("/admin/backups").get_data(as_text=True)
    assert str(tmp_path / "nas") in html
    assert 'data-testid="copy-same-disk"' in html, "a temporary folder is on the same disk"
    assert 'data-testid="kept"' in html and "14 days, 8 weeks and 12 months" in html


def test_back_up_now_keeps_the_backup_when_the_copy_fails(admin, app, tmp_path):
    app.config["BACKUP_DIR"] = str(tmp_path / "backups")
    app.config["BACKUP_COPY_DIR"] = str(tmp_path / "unplugged")
    response = admin.post("/admin/backups", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "The second copy failed" in html and "is the NAS or USB disk mounted?" in html
    assert len(list((tmp_path / "backups").glob("villa-*.vbk"))) == 1
