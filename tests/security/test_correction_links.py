"""Correction links: only those who may change the customer (the owner and the owner's manager) make
one. Making a link voids the customer's earlier ones, so anyone else making one would also break the
link the rep just gave the customer."""

import re

LINK = re.compile(r"https?://[^/\s\"<]+/c/([A-Za-z0-9_.\-]+)")


def test_desk_cannot_make_a_link_nor_void_the_reps(server, staff, customer_a):
    made = staff["repa"].post(f"/customers/{customer_a['id']}/correction-link")
    assert made.status == 200, made.status
    token = LINK.search(made.text).group(1)
    desk = staff["desk"]
    assert desk.post(f"/customers/{customer_a['id']}/correction-link").status == 403
    assert 'data-testid="create-correction-link"' not in desk.get(f"/customers/{customer_a['id']}").text
    for other in ("repb", "mgrb", "audit", "admin"):
        assert staff[other].post(f"/customers/{customer_a['id']}/correction-link").status == 403, other
    ((others,),) = server.db.query(
        'SELECT COUNT(*) FROM correction_link l JOIN "user" u ON u.id = l.created_by_id'
        " WHERE l.customer_id = ? AND u.username <> 'repa'",
        (customer_a["id"],),
    )
    assert others == 0
    # The customer's link still opens (one hit: the public pages are rate-limited per address).
    assert server.client().get(f"/c/{token}").status == 200


def test_forged_forwarded_headers_do_not_change_the_link(server, staff, customer_a):
    """Without VILLA_TRUSTED_PROXIES no X-Forwarded-* header is believed: not by the app and not by
    gunicorn (which by default trusts them from 127.0.0.1), so a link cannot be made to point at
    another scheme or host."""
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    made = staff["repa"].post(f"/customers/{customer_a['id']}/correction-link", headers=forged)
    assert made.status == 200, made.status
    link = LINK.search(made.text).group(0)
    assert link.startswith(server.base + "/c/"), link
