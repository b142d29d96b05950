"""The timeline tells who changed what and when to everyone who opens the client page, but the values
(old and new names, notes, follow-up contents, visit notes, reasons) only to who may see the customer
in full (issue 12, medium 2). Before the fix the desk, other teams and admin read `姓名: 吴璐欣 →
欧阳测试` and the confidential note in clear under a masked heading."""

import re

import pytest

from tests.security.factory import register

FIRST_NAME, NEW_NAME = "时间甲", "时间新名"
SECRETS = {
    "old name": FIRST_NAME,
    "new name": NEW_NAME,
    "note": "机密备注：客户在谈离婚",
    "follow-up": "电话沟通：客户资金来自拆迁款",
    "follow-up result": "约下周二签认筹",
    "visit note": "和律师一起来的",
    "lost reason": "嫌物业费太贵",
    "reassign reason": "原顾问离职交接",
    "rejection detail": "客户说是替亲戚登记",
}
# Who opens the page and may not see this customer in full.
OUTSIDERS = ("desk", "repb", "mgrb", "admin")
# Who may: the owner, the owner's manager, the audit team.
INSIDERS = ("repa", "mgra", "audit")


@pytest.fixture(scope="module")
def changed(staff):
    """Rep A's customer: rejected at review, then name, note, stage and owner changed; a follow-up and
    a return visit."""
    rep_a, manager_a, desk = staff["repa"], staff["mgra"], staff["desk"]
    customer_id = register(rep_a, name=FIRST_NAME, notes="")
    base = f"/customers/{customer_id}"
    rejected = manager_a.post(
        f"/review/{customer_id}/reject", {"level": "1", "note": SECRETS["rejection detail"]}
    )
    assert rejected.status == 303, rejected.text[:300]
    for field, value in (("name", NEW_NAME), ("notes", SECRETS["note"])):
        saved = rep_a.post(f"{base}/fields/{field}", {field: value})
        assert saved.status == 303, f"{field}: {saved.status} {saved.text[:300]}"
    added = rep_a.post(
        f"{base}/followups",
        {
            "kind": "call",
            "reached": "y",
            "content": SECRETS["follow-up"],
            "result": SECRETS["follow-up result"],
        },
    )
    assert added.status == 303, added.text[:300]
    visit = desk.post(f"/reception{base}/return-visit", {"kind": "visit", "note": SECRETS["visit note"]})
    assert visit.status == 303, visit.text[:300]
    lost = rep_a.post(f"{base}/stage", {"stage": "lost", "lost_reason": SECRETS["lost reason"]})
    assert lost.status == 303, lost.text[:300]
    back = rep_a.post(f"{base}/stage", {"stage": "registered"})
    assert back.status == 303, back.text[:300]
    reassigned = manager_a.post(
        f"{base}/reassign",
        {"owner_id": _reassign_option(manager_a, customer_id, "solo5"), "reason": SECRETS["reassign reason"]},
    )
    assert reassigned.status == 303, reassigned.text[:300]
    back_to_a = manager_a.post(
        f"{base}/reassign", {"owner_id": _reassign_option(manager_a, customer_id, "repa"), "reason": "交回"}
    )
    assert back_to_a.status == 303, back_to_a.text[:300]
    return customer_id


def _reassign_option(client, customer_id: int, username: str) -> str:
    page = client.get(f"/customers/{customer_id}/reassign", htmx=True).text
    match = re.search(rf'<option[^>]*value="(\d+)"[^>]*>[^<]*\({re.escape(username)}\)</option>', page)
    assert match, f"the reassign form offers no {username}"
    return match.group(1)


def _pages(client, customer_id: int) -> dict[str, str]:
    """Every way the timeline is rendered for this user: the client page (a save's answer adds
    entries only for who wrote them, and so may see them in full)."""
    pages = {"client page": client.get(f"/customers/{customer_id}")}
    for name, response in pages.items():
        assert response.status == 200, f"{name}: {response.status}"
    return {name: response.text for name, response in pages.items()}


@pytest.mark.parametrize("username", OUTSIDERS)
def test_who_may_not_see_the_customer_reads_no_values_in_the_timeline(staff, changed, username):
    for where, html in _pages(staff[username], changed).items():
        leaked = [label for label, text in SECRETS.items() if text in html]
        assert not leaked, f"{username} reads {leaked} on the {where}"
        # They get the 判客 card (issue 14): whose customer it is, no history at all.
        assert 'data-testid="card-only"' in html or 'data-testid="open-dispute"' in html
        assert 'data-testid="event-' not in html and 'data-testid="followup"' not in html


@pytest.mark.parametrize("username", INSIDERS)
def test_who_may_see_the_customer_reads_the_values(staff, changed, username):
    for where, html in _pages(staff[username], changed).items():
        missing = [label for label, text in SECRETS.items() if text not in html]
        assert not missing, f"{username} misses {missing} on the {where}"


def test_the_owner_gets_the_new_follow_up_in_full(staff, changed):
    added = staff["repa"].post(
        f"/customers/{changed}/followups", {"kind": "wechat", "content": "微信：发了认筹须知"}, htmx=True
    )
    assert added.status == 200 and "微信：发了认筹须知" in added.text
