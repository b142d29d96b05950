"""Helpers several test files share: the `villa` command in a subprocess, a registration form, the
out-of-band parts of a save's answer, the SQLite file's bytes. (Fixtures live in conftest.py.)"""

import os
import subprocess
import sys
from pathlib import Path

from villa.db import db

VILLA = [sys.executable, "-c", "from villa.cli import main; main()"]


def villa(tmp_path, *args, stdin="", env=None, timeout=120):
    """Run the `villa` command on the instance in tmp_path/instance, as an operator would."""
    environment = {
        **os.environ,
        "VILLA_INSTANCE": str(tmp_path / "instance"),
        "VILLA_SECRET_KEY": "cli-test",
        **(env or {}),
    }
    environment.pop("VILLA_DATABASE_URL", None)
    environment.update(env or {})
    return subprocess.run(
        VILLA + list(args), input=stdin, capture_output=True, text=True, env=environment, timeout=timeout
    )


def assert_one_line_error(result):
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip() and " INFO " not in line]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


REGISTRATION = {
    "visit_type": "visit",
    "name": "王建国",
    "gender": "M",
    "phone": "139 1234 5678",
    "channel": "walk_in",
    "consent": "y",
    "budget": "1000-1500万",
    "unit_type": "独栋",
    "notes": "想看湖景独栋",
}


def registration_form(**changes) -> dict:
    """A valid registration at the desk; a change of None drops the field."""
    values = dict(REGISTRATION)
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return values


OOB_HEADER = '<hgroup id="client-header" hx-swap-oob="true">'
OOB_TIMELINE = '<ul hx-swap-oob="afterbegin:#timeline">'


def oob_header(html: str) -> str:
    """The page header a save's answer swaps in out of band."""
    start = html.index(OOB_HEADER)
    return html[start : html.index("</hgroup>", start)]


def oob_timeline(html: str) -> str:
    """The entries a save's answer puts on top of the timeline, out of band (last in the answer)."""
    start = html.index(OOB_TIMELINE)
    return html[start : html.rindex("</ul>")]


def sqlite_file_bytes() -> bytes:
    """The database file and its write-ahead log, byte for byte."""
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    path = Path(db.obj.database)
    wal = Path(f"{path}-wal")
    # The log disappears when the last connection closes: then everything is in the file.
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
