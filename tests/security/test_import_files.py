"""Crafted Excel files against the import: size caps, XML attacks and a huge text cell.

Each file is refused with a clear message (on the admin page next to the upload field; from
`villa import` as one line on stderr with a non-zero exit) and nothing is stored.
"""

import io
import os
import tracemalloc
import zipfile
from dataclasses import replace
from xml.sax.saxutils import escape

import pytest
from flask_babel import force_locale

from tests.conftest import create_user
from tests.helpers import assert_one_line_error, villa
from villa.import_file import MB, SERVER_LIMITS, WEB_LIMITS, ImportProblem
from villa.importer import ImportOptions, run_import
from villa.models import Customer, ImportRun

HEADER = ["登记日期", "姓名", "手机号", "渠道", "备注"]
SHARED_STRINGS = "xl/sharedStrings.xml"
DEFLATED = zipfile.ZIP_DEFLATED
SST = '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
XXE = f"""<?xml version="1.0"?>
<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
{SST}<si><t>&xxe;</t></si></sst>"""


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PACKAGE = "http://schemas.openxmlformats.org/package/2006"
OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
PARTS = {
    "[Content_Types].xml": f"""<Types xmlns="{PACKAGE}/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="{SHEET_TYPE}.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{SHEET_TYPE}.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="{SHEET_TYPE}.sharedStrings+xml"/></Types>""",
    "_rels/.rels": f"""<Relationships xmlns="{PACKAGE}/relationships">
<Relationship Id="rId1" Type="{OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>""",
    "xl/workbook.xml": f"""<workbook xmlns="{MAIN}" xmlns:r="{OFFICE}">
<sheets><sheet name="客户登记表" sheetId="1" r:id="rId1"/></sheets></workbook>""",
    "xl/_rels/workbook.xml.rels": f"""<Relationships xmlns="{PACKAGE}/relationships">
<Relationship Id="rId1" Type="{OFFICE}/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="{OFFICE}/sharedStrings" Target="sharedStrings.xml"/></Relationships>""",
}


def register(*rows) -> bytes:
    """A register as Excel writes one: its text in the shared-strings part, which openpyxl reads
    whole when it opens the file; the rows in the worksheet, which it reads one by one."""
    strings, cells = [], []
    for number, row in enumerate([HEADER, *rows], start=1):
        values = []
        for column, value in zip("ABCDE", row, strict=True):
            if isinstance(value, str):
                strings.append(value)
                values.append(f'<c r="{column}{number}" t="s"><v>{len(strings) - 1}</v></c>')
            else:
                values.append(f'<c r="{column}{number}"><v>{value}</v></c>')
        cells.append(f'<row r="{number}">{"".join(values)}</row>')
    sheet = f'<worksheet xmlns="{MAIN}"><sheetData>{"".join(cells)}</sheetData></worksheet>'
    shared = f"{SST}{''.join(f'<si><t>{escape(text)}</t></si>' for text in strings)}</sst>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", DEFLATED) as zf:
        for name, text in PARTS.items():
            zf.writestr(name, text)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
        zf.writestr(SHARED_STRINGS, shared)
    return out.getvalue()


def a_row(note="老客户", phone="13712340001"):
    return [45717, "王先生", phone, "自然到访", note]  # 45717: 2025-03-01 as Excel counts days


def with_part(content: bytes, name: str, chunks) -> bytes:
    """The same .xlsx with one part replaced, written chunk by chunk."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf,
    ):
        for item in source.infolist():
            if item.filename != name:
                zf.writestr(item, source.read(item))
        with zf.open(name, "w") as part:
            for chunk in chunks:
                part.write(chunk.encode() if isinstance(chunk, str) else chunk)
    return out.getvalue()


def billion_laughs() -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)]
    return f'<?xml version="1.0"?>\n<!DOCTYPE sst [{"".join(entities)}]>\n{SST}<si><t>&lol9;</t></si></sst>'


def huge_shared_string(megabytes: int):
    yield f'<?xml version="1.0" encoding="UTF-8"?>\n{SST}<si><t>'
    for _ in range(megabytes):
        yield "a" * (1024 * 1024)
    yield "</t></si></sst>"


def xxe_file(limits) -> bytes:
    return with_part(register(a_row()), SHARED_STRINGS, [XXE])


def laughs_file(limits) -> bytes:
    return with_part(register(a_row()), SHARED_STRINGS, [billion_laughs()])


def huge_string_file(limits) -> bytes:
    """A small file whose shared-strings part unpacks to a megabyte more than the limits allow."""
    return with_part(register(a_row()), SHARED_STRINGS, huge_shared_string(limits.part_bytes // MB + 1))


def laughs_in_the_sheet(limits) -> bytes:
    """The entities in the worksheet, which is read only while the rows are."""
    doctype = billion_laughs().split("\n")[1].replace("DOCTYPE sst", "DOCTYPE worksheet")
    sheet = (
        f'<?xml version="1.0"?>\n{doctype}\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    )
    return with_part(register(a_row()), "xl/worksheets/sheet1.xml", [sheet])


def padded(content: bytes, size: int) -> bytes:
    """A valid register made bigger than `size` by a part that does not compress."""
    return with_part(content, "docProps/padding.bin", [os.urandom(size - len(content) + 1024)])


CRAFTED = {
    "xxe": (xxe_file, "XML"),
    "billion laughs": (laughs_file, "XML"),
    "billion laughs in the sheet": (laughs_in_the_sheet, "XML"),
    "huge shared string": (huge_string_file, "text"),
}


@pytest.fixture
def admin(app, login):
    session = login(create_user("admin"))
    session.get("/lang/en")
    return session


def upload(session, content: bytes, path="/admin/import"):
    data = {"upload": (io.BytesIO(content), "register.xlsx")}
    return session.post(path, data, content_type="multipart/form-data")


def refused_next_to_the_upload(response) -> str:
    html = response.get_data(as_text=True)
    assert 'data-testid="import-form"' in html, "the import page, with its form"
    start = html.index('data-testid="error-upload"')
    return html[start : html.index("</small>", start)]


@pytest.mark.parametrize("kind", list(CRAFTED))
def test_a_crafted_file_is_refused_on_the_page(admin, kind):
    make, word = CRAFTED[kind]
    response = upload(admin, make(WEB_LIMITS))
    assert response.status_code == 422
    message = refused_next_to_the_upload(response)
    assert word in message
    assert "root:" not in response.get_data(as_text=True)
    assert ImportRun.select().count() == 0 and Customer.select().count() == 0


@pytest.mark.parametrize("kind", list(CRAFTED))
def test_a_crafted_file_is_one_line_from_the_command(tmp_path, kind):
    make, _ = CRAFTED[kind]
    path = tmp_path / "crafted.xlsx"
    path.write_bytes(make(SERVER_LIMITS))
    assert villa(tmp_path, "init").returncode == 0
    assert_one_line_error(villa(tmp_path, "import", str(path)))


def test_a_huge_shared_string_is_refused_without_reading_it(app):
    content = huge_string_file(WEB_LIMITS)
    assert len(content) < MB, "a small file that unpacks to more than the limit"
    tracemalloc.start()
    try:
        with app.app_context(), force_locale("en"), pytest.raises(ImportProblem, match="text"):
            run_import(content, "x.xlsx", None, ImportOptions(limits=WEB_LIMITS))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB, f"{peak} bytes held at the peak"


def test_a_file_over_the_page_limit_is_refused_next_to_the_upload(admin):
    response = upload(admin, padded(register(a_row()), WEB_LIMITS.file_bytes))
    assert response.status_code == 422
    assert f"larger than {WEB_LIMITS.file_bytes // 2**20} MB" in refused_next_to_the_upload(response)
    assert Customer.select().count() == 0


def test_an_upload_over_the_request_limit_gets_the_same_page(app, admin):
    too_big = app.config["MAX_CONTENT_LENGTH"] + 1
    response = upload(admin, b"PK" + b"\0" * too_big)
    assert response.status_code == 413
    assert f"larger than {WEB_LIMITS.file_bytes // 2**20} MB" in refused_next_to_the_upload(response)


def test_an_oversized_upload_shows_the_import_page_to_admins_only(app, login):
    too_big = b"PK" + b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = upload(login(create_user("rep")), too_big)
    assert response.status_code == 413
    assert 'data-testid="import-form"' not in response.get_data(as_text=True)


def test_a_file_that_unpacks_past_the_limit_is_refused(admin):
    zeros = (b"\0" * MB for _ in range(WEB_LIMITS.unpacked_bytes // MB + 1))
    content = with_part(register(a_row()), "xl/worksheets/sheet2.xml", zeros)
    response = upload(admin, content)
    assert response.status_code == 422
    assert f"more than {WEB_LIMITS.unpacked_bytes // MB} MB" in refused_next_to_the_upload(response)


def test_a_file_over_the_server_limit_is_one_line_from_the_command(tmp_path):
    assert villa(tmp_path, "init").returncode == 0
    path = tmp_path / "huge.xlsx"
    with path.open("wb") as out:  # sparse: nothing is written, and the command must not read it
        out.truncate(SERVER_LIMITS.file_bytes + 1)
    line = assert_one_line_error(villa(tmp_path, "import", str(path)))
    assert f"larger than {SERVER_LIMITS.file_bytes // 2**20} MB" in line


def test_rows_beyond_the_limit_are_refused(app):
    content = register(*(a_row(phone=f"1371234{n:04d}") for n in range(6)))
    with app.app_context(), force_locale("en"), pytest.raises(ImportProblem, match="more than 5 rows"):
        run_import(content, "x.xlsx", None, ImportOptions(limits=replace(SERVER_LIMITS, rows=5)))


def test_a_note_longer_than_the_form_takes_is_not_stored(app):
    admin = create_user("admin")
    long_note, longest = "备" * (5 * 1024 * 1024), "注" * 1000
    content = register(a_row(long_note), a_row(longest, phone="13712340002"))
    assert len(content) < 64 * 1024, "a small file with a 5 MB note"
    with app.app_context():
        run, report = run_import(content, "x.xlsx", admin, ImportOptions(), apply=True)
    assert [(o.status, o.code) for o in report.outcomes] == [("invalid", "too_long"), ("imported", "no_rep")]
    assert report.outcomes[0].params == {"column": "备注", "max": 1000}
    assert [c.notes for c in Customer.select()] == [longest]
