"""IDOR across reps and teams: every route under a customer id, read from the url_map.

Rep B (another rep) and manager B (another team's manager) try rep A's customer: every write is
403 or 404, unless the route is a cross-rep step by design (opening a dispute, logging a return
visit for the owner, taking a customer that is in the public pool); no GET ever shows the full
phone, ID number, address or name.
"""

import pytest

from tests.security.factory import dashed, register, spaced

MARK = "越权写入测试"  # what a refused write carries: it must never reach the customer
ALLOWED = "按设计允许"  # what a cross-rep step allowed by design carries


def _values(endpoint: str, url: str, mark: str) -> dict:
    """Form values that would succeed for someone allowed, so only the permission can refuse."""
    if endpoint == "clients.field_save":
        field = url.rsplit("/", 1)[1]
        return {field: {"budget": "2000万+", "phone": "13700001111"}.get(field, mark)}
    return {
        "clients.add_followup": {"kind": "call", "content": mark, "reached": "y"},
        "clients.stage": {"stage": "visited"},
        "clients.reassign_customer": {"owner_id": "1", "reason": mark},
        "review.reject": {"reason": mark},
        "reception.dispute": {"reason": mark},
        "reception.return_visit": {"kind": "visit", "note": mark},
        "reception.take": {"kind": "visit"},
    }.get(endpoint, {})


# Not a 403, by design: actor -> endpoint -> "allowed" (200 or 303), "refused" (no 200; the
# ownership is checked after), or "skip" (not sent: it would end the test's customer).
BY_DESIGN = {
    # 撞单: a rep who met the customer first opens a dispute for a manager to decide; the desk roles
    # log a returning customer's visit for the owning rep; the pool takes only lapsed customers.
    "repb": {"reception.dispute": "allowed", "reception.return_visit": "allowed",
             "reception.take": "refused", "pool.claim_customer": "refused"},
    # The desk roles give a pool customer who walks in to a rep: refused for an owned customer.
    "mgrb": {"reception.return_visit": "allowed", "reception.hand_out": "refused"},
    # The front desk logs return visits (correction links are the owner's and the manager's).
    "desk": {"reception.return_visit": "allowed", "reception.hand_out": "refused"},
    # The audit team reveals (logged) and reviews at the second level; it edits no customer field,
    # but corrects a wrong source channel or visit type with a reason (none sent here: refused, 422).
    "audit": {"clients.reveal": "allowed", "clients.source_save": "refused"},
    # The admin erases customers (PIPL); it may not review (segregation of duties) nor edit.
    "admin": {"admin.erase_customer": "skip"},
}  # fmt: skip
FIELDS = ("phone", "id_number", "name", "address", "budget", "notes")


def _secrets(customer):
    phone, id_number = customer["phone"], customer["id_number"]
    return [phone, spaced(phone), dashed(phone), id_number, "龙井路18号", "张三丰"]


def _customer_routes(routes):
    return [r for r in routes if "customer_id" in r.argument_names]


def _urls(route, customer):
    values = {"customer_id": customer["id"], "followup_id": customer["followup_id"]}
    if "field_name" in route.argument_names:
        return [route.url(field_name=f, **values) for f in FIELDS]
    return [route.url(**values)]


def test_customer_routes_are_found(routes):
    found = {r.endpoint for r in _customer_routes(routes)}
    assert {"clients.detail", "clients.reveal", "clients.add_followup", "clients.field_save"} <= found


@pytest.mark.parametrize("actor", ["repb", "mgrb", "desk", "admin"])
def test_no_get_route_shows_another_reps_customer_in_full(staff, routes, customer_a, actor):
    client = staff[actor]
    problems = []
    for route in _customer_routes(routes):
        if "GET" not in route.methods:
            continue
        for url in _urls(route, customer_a):
            for htmx in (False, True):
                response = client.get(url, htmx=htmx)
                where = f"{actor} {'htmx ' if htmx else ''}GET {url}"
                if response.status not in (200, 302, 303, 403, 404):
                    problems.append(f"{where}: {response.status}")
                shown = [s for s in _secrets(customer_a) if s in response.text]
                if shown:
                    problems.append(f"{where}: shows {shown}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("actor", ["repb", "mgrb", "desk", "audit", "admin"])
def test_writes_to_another_reps_customer_are_refused(staff, routes, actor):
    """On a customer of rep A of its own: every POST under the customer's id, as someone who may not
    change it (another rep, another team's manager, the desk, the audit team, the admin)."""
    rep_a = staff["repa"]
    customer_id = register(rep_a, name="李寻欢", address="苏州市姑苏区平江路1号", budget="800-1000万")
    customer = {"id": customer_id, "followup_id": 0}
    client = staff[actor]
    problems = []
    for route in _customer_routes(routes):
        if "POST" not in route.methods:
            continue
        for url in _urls(route, customer):
            expected = BY_DESIGN.get(actor, {}).get(route.endpoint)
            if expected == "skip":
                continue
            values = _values(route.endpoint, url, ALLOWED if expected else MARK)
            response = client.post(url, values)
            where = f"{actor} POST {url}: {response.status}"
            if expected is None and response.status not in (403, 404):
                problems.append(f"{where}, expected 403 or 404")
            elif expected == "refused" and (response.status >= 500 or response.status == 200):
                problems.append(f"{where}: taking a protected customer must be refused")
            elif expected == "allowed" and response.status not in (200, 303):
                problems.append(f"{where}, expected 200 or 303 (allowed by design)")
    # Rep A still owns the customer, and nothing the others sent reached it.
    assert rep_a.post(f"/customers/{customer_id}/reveal", htmx=True).status == 200
    if "clients.reveal" not in BY_DESIGN.get(actor, {}):
        assert client.post(f"/customers/{customer_id}/reveal", htmx=True).status == 403
    page = rep_a.get(f"/customers/{customer_id}").text
    assert "800-1000万" in page and "2000万+" not in page
    assert MARK not in page, f"{actor}'s refused write reached rep A's customer"
    assert not problems, "\n".join(problems)


def test_a_followup_cannot_be_opened_through_another_customer(staff, customer_a):
    """Rep B asks for rep A's follow-up under rep B's own customer: 404, nothing of it shown."""
    rep_b = staff["repb"]
    own = register(rep_b, name="欧阳锋")
    response = rep_b.get(f"/customers/{own}/followups/{customer_a['followup_id']}/correct", htmx=True)
    assert response.status == 404
    assert "电话沟通，约周六看房" not in response.text
