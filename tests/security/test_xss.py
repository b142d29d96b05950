"""Stored XSS and template injection: payloads typed into every free-text field come back escaped on
every page, htmx fragment and export that shows them, never as markup, script URLs or evaluated
template code; the name field refuses them outright; exported cells are text, never formulas."""

import re
from io import BytesIO

import pytest

from tests.security.factory import new_id_number, new_phone, register, registration
from tests.security.live import csrf_from
from villa.client_page import SECTIONS

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
SSTI = "ssti{{7*7}}"  # the tag finds it: rendered as a template it would read "ssti49"
PAYLOADS = (SCRIPT, IMG, JS_URL, SSTI)
ESCAPED = {
    SCRIPT: "&lt;script&gt;alert(1)&lt;/script&gt;",
    IMG: "&gt;&lt;img src=x onerror=alert(1)&gt;",
    JS_URL: "javascript:alert(1)",
    SSTI: "ssti{{7*7}}",
}
CHANNEL_NAME = "=1+2<script>alert(1)</script>"  # an admin-typed channel name: markup and a formula
# Registration fields a person types freely (selects and checked numbers are not free text).
FREE_TEXT = ("referrer_name", "broker_agency", "broker_name", "competing_projects", "notes", "address",
             "wechat", "credit_notes")  # fmt: skip
PAGE_FIELDS = ("notes", "competing_projects", "address", "wechat", "referrer_name", "credit_notes")

RAW = (
    re.compile(r"<script>alert\(1\)", re.I),
    re.compile(r"<img src=x onerror", re.I),
    re.compile(r"""(?:href|src|action|formaction|hx-get|hx-post)\s*=\s*["']?\s*javascript:""", re.I),
    re.compile(r"ssti49"),
)


class Planted:
    def __init__(self):
        self.customers = {}  # payload -> customer id
        self.pages = []  # (label, Response)
        self.followups = {}  # payload -> htmx fragment of the new follow-up

    def add(self, label, response):
        self.pages.append((label, response))
        return response

    def page(self, label):
        return next(r for lbl, r in self.pages if lbl == label)


def _channel(staff) -> str:
    admin = staff["admin"]
    admin.refresh_token("/admin/settings/channels")
    response = admin.post(
        "/admin/settings/channels", {"code": "xss_event", "name": CHANNEL_NAME, "kind": "event"}
    )
    assert response.status == 303, f"admin could not add a channel: {response.status} {response.text[:300]}"
    return "xss_event"


def _correction_note(server, staff, customer_id, payload, planted):
    """Rep A makes a correction link; the customer, not logged in, sends a note through it."""
    made = staff["repa"].post(f"/customers/{customer_id}/correction-link")
    assert made.status == 200, made.status
    match = re.search(r"https?://[^/\s\"<]+/c/([A-Za-z0-9_.\-]+)", made.text)
    assert match, "no correction link on the page"
    visitor = server.client()
    form = visitor.get(f"/c/{match.group(1)}")  # the public pages are rate-limited: two hits only
    assert form.status == 200, form.status
    visitor.token = csrf_from(form.text)
    sent = visitor.post(f"/c/{match.group(1)}", {"note": payload})
    assert sent.status == 200, f"correction note refused: {sent.status}"
    planted.add(f"customer's thanks page ({payload})", sent)


@pytest.fixture(scope="module")
def planted(server, staff):
    rep_a, rep_b, manager, desk = staff["repa"], staff["repb"], staff["mgra"], staff["desk"]
    planted = Planted()
    channel = _channel(staff)
    for n, payload in enumerate(PAYLOADS):
        values = {name: payload for name in FREE_TEXT}
        customer_id = register(
            rep_a,
            name=f"测试{'甲乙丙丁'[n]}",
            channel=channel if n == 0 else "walk_in",
            sensitive_consent="y",
            id_number=new_id_number(),
            **values,
        )
        planted.customers[payload] = customer_id
        fragment = rep_a.post(
            f"/customers/{customer_id}/followups",
            {"kind": "call", "content": payload, "result": payload},
            htmx=True,
        )
        assert fragment.status == 200, fragment.status
        planted.followups[payload] = planted.add(f"follow-up fragment ({payload})", fragment)
        rejected = manager.post(f"/review/{customer_id}/reject", {"reason": payload, "note": payload})
        assert rejected.status == 303, f"reject: {rejected.status} {rejected.text[:300]}"
        disputed = rep_b.post(f"/reception/customers/{customer_id}/dispute", {"reason": payload})
        assert disputed.status == 303, f"dispute: {disputed.status}"
        visited = desk.post(
            f"/reception/customers/{customer_id}/return-visit", {"kind": "visit", "note": payload}
        )
        assert visited.status == 303, f"return visit: {visited.status}"
        _correction_note(server, staff, customer_id, payload, planted)
    _fetch_pages(staff, planted)
    return planted


def _fetch_pages(staff, planted):
    rep_a = staff["repa"]
    for payload, customer_id in planted.customers.items():
        base = f"/customers/{customer_id}"
        planted.add(f"client page, owner ({payload})", rep_a.get(base))
        planted.add(f"stage section ({payload})", rep_a.get(f"{base}/stage", htmx=True))
        planted.add(f"revealed contact ({payload})", rep_a.post(f"{base}/reveal", htmx=True))
        for field in PAGE_FIELDS:
            planted.add(f"field {field} ({payload})", rep_a.get(f"{base}/fields/{field}", htmx=True))
            planted.add(
                f"field {field} form ({payload})", rep_a.get(f"{base}/fields/{field}/edit", htmx=True)
            )
            if field == "notes":  # the same form on a page of its own, without JavaScript
                planted.add(f"field {field} form page ({payload})", rep_a.get(f"{base}/fields/{field}/edit"))
        for section in SECTIONS:  # each section of the page, as shown and as one form
            planted.add(f"section {section} ({payload})", rep_a.get(f"{base}/sections/{section}", htmx=True))
            planted.add(
                f"section {section} form ({payload})", rep_a.get(f"{base}/sections/{section}/edit", htmx=True)
            )
        ids = re.findall(
            rf"{base}/followups/(\d+)/correct", planted.page(f"client page, owner ({payload})").text
        )
        for followup_id in ids[:2]:
            url = f"{base}/followups/{followup_id}/correct"
            planted.add(f"follow-up correction form ({payload})", rep_a.get(url, htmx=True))
            planted.add(f"follow-up correction page ({payload})", rep_a.get(url))
        for who in ("mgra", "audit", "repb", "desk", "admin"):
            planted.add(f"client page, {who} ({payload})", staff[who].get(base))
        # A save's answer: the row, the header and the new timeline entry (old → new value).
        saved = rep_a.post(
            f"{base}/fields/competing_projects", {"competing_projects": f"{payload}!"}, htmx=True
        )
        planted.add(f"save answer ({payload})", saved)
    for who, paths in {
        "repa": ["/", "/customers/", "/reception/", "/reception/register"],
        "repb": ["/", "/customers/"],
        "mgra": ["/", "/customers/", "/review/", "/disputes/", "/outbox/", "/corrections/", "/pool/"],
        "mgrb": ["/disputes/", "/review/"],
        "audit": ["/", "/review/", "/corrections/", "/customers/", "/logs/"],
        "desk": ["/", "/reception/", "/reception/register", "/outbox/"],
        "admin": ["/", "/customers/", "/admin/settings/channels", "/admin/duplicates", "/logs/"],
    }.items():
        for path in paths:
            planted.add(f"{path} as {who}", staff[who].get(path))
            planted.add(f"htmx {path} as {who}", staff[who].get(path, htmx=True))
    for payload in PAYLOADS:
        planted.add(
            f"list search ({payload})", staff["mgra"].get(f"/customers/?q={_quote(payload)}", htmx=True)
        )


def _quote(text):
    from urllib.parse import quote

    return quote(text, safe="")


def test_nothing_is_rendered_as_markup_or_code(planted):
    problems = []
    for label, response in planted.pages:
        if response.status >= 500:
            problems.append(f"{label}: {response.status}")
        for pattern in RAW:
            if pattern.search(response.text):
                problems.append(f"{label} [{response.status}]: {pattern.pattern!r} found")
    assert len(planted.pages) > 100
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_show_as_text_where_they_belong(planted, payload):
    """The escaped text is there: the pages above really showed the fields they were checked for."""
    escaped = ESCAPED[payload]
    wanted = [
        f"client page, owner ({payload})",  # notes, address and the rest of the registration
        f"follow-up fragment ({payload})",  # the new row htmx swaps in
        f"save answer ({payload})",  # the changed row, the header and the new timeline entry
        f"field notes ({payload})",
        f"field notes form ({payload})",
        f"section notes ({payload})",
        f"section notes form ({payload})",
        f"follow-up correction form ({payload})",
        "/disputes/ as mgra",  # the dispute's reason
        "/corrections/ as mgra",  # the customer's note
        "/ as repa",  # the rejection's reason, in the rep's day
    ]
    missing = [label for label in wanted if escaped not in planted.page(label).text]
    assert not missing, f"{escaped!r} not shown on: {missing}"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_name_with_markup_is_refused_and_not_stored(staff, payload):
    client = staff["repa"]
    phone = new_phone()
    response = client.post("/reception/register", registration(name=payload, phone=phone))
    assert response.status == 422
    assert 'data-testid="error-name"' in response.text
    for pattern in RAW:
        assert not pattern.search(response.text)
    check = client.get(f"/reception/check?phone={phone}", htmx=True)
    assert 'data-testid="dup-warning"' not in check.text, "the refused registration was stored"


def test_excel_export_holds_text_not_formulas(staff, planted):
    from openpyxl import load_workbook

    response = staff["mgra"].get("/customers/export.xlsx")
    assert response.status == 200
    book = load_workbook(BytesIO(response.body))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    channel_cells = [c for c in cells if isinstance(c.value, str) and "alert(1)" in c.value]
    assert channel_cells, "the channel's name is not in the export"
    problems = []
    for cell in cells:
        if cell.data_type == "f":
            problems.append(f"{cell.coordinate}: a formula {cell.value!r}")
        elif isinstance(cell.value, str) and cell.value.lstrip()[:1] in ("=", "+", "-", "@"):
            problems.append(f"{cell.coordinate}: {cell.value!r} would be read as a formula")
        elif isinstance(cell.value, str) and "ssti49" in cell.value:
            problems.append(f"{cell.coordinate}: {cell.value!r}: a template was evaluated")
    assert not problems, "\n".join(problems)
    assert any(c.value == "'" + CHANNEL_NAME for c in channel_cells), [c.value for c in channel_cells]
