"""One count, one definition: every number on a home page links to the list behind it, and following
the link shows exactly that many rows (all pages), for every role."""

import re
from datetime import timedelta

import pytest

from villa.models import ROLES, Customer, Dispute, now, office_day_start, office_today
from villa.review import QUEUE_LIMIT

# Where each linked page draws one row, and the link to its next page.
ROW_MARKS = {
    "/customers/": r'data-testid="customer-row"',
    "/review/": r'data-testid="review-row"',
    "/pool/": r'data-testid="pool-row-\d+"',
    "/disputes/": r'<article data-testid="dispute-\d+"',
    "/logs/": r'data-testid="log-row"',
    "/admin/users": r'data-testid="user-[^"]+"',
    "/deals/": r'data-testid="waiting-deal-\d+"',
    "/reception/today": r'data-testid="customer-row"',
}
NEXT = re.compile(r'href="([^"]+)"[^>]*data-testid="(?:more|review-next|pool-more)"')
COUNT = re.compile(r'href="([^"]+)"[^>]*data-testid="count-([a-z_]+)" data-count="(\d+)"')


@pytest.fixture
def office(make_user, make_customer, login):
    """Two teams, the desk, the audit team, an admin; customers of every kind the home pages count."""
    users = {"manager": make_user("manager"), "other_manager": make_user("manager")}
    users["rep"] = make_user("rep", manager=users["manager"])
    users["colleague"] = make_user("rep", manager=users["manager"])
    users["other_rep"] = make_user("rep", manager=users["other_manager"])
    for role in ("reception", "auditor", "admin"):
        users[role] = make_user(role)
    yesterday = office_day_start() - timedelta(hours=3)
    today, rep = office_today(), users["rep"]
    mine = [
        make_customer(owner=rep, registered_by=rep, next_followup_on=today),
        make_customer(owner=rep, registered_by=rep, next_followup_on=today - timedelta(days=3)),
        make_customer(owner=rep, registered_by=rep, protected_until=now() + timedelta(days=2)),
        # Walk-ins the desk registered yesterday for the rep: the rep's, not "registered today".
        make_customer(owner=rep, registered_by=users["reception"], registered_at=yesterday),
        make_customer(
            owner=rep,
            registered_by=users["reception"],
            registered_at=yesterday,
            review_status="pending_second",
        ),
    ]
    theirs = [
        make_customer(owner=users["colleague"], registered_by=users["colleague"], next_followup_on=today),
        make_customer(
            owner=users["colleague"], registered_by=users["reception"], review_status="pending_second"
        ),
        make_customer(owner=users["other_rep"], registered_by=users["reception"]),
        make_customer(owner=users["other_rep"], registered_by=users["other_rep"], registered_at=yesterday),
        make_customer(owner=None, registered_by=users["reception"], in_public_pool=True, pool_since=now()),
        make_customer(
            owner=None, registered_by=users["reception"], in_public_pool=True, pool_since=yesterday
        ),
    ]
    Dispute.create(customer=mine[0], claimant=users["colleague"], owner=rep, reason="我先接待")
    Dispute.create(customer=theirs[2], claimant=rep, owner=users["other_rep"], reason="老客户介绍")
    login(rep).post(f"/customers/{mine[0].id}/reveal", htmx=True)
    login(users["manager"]).post(f"/customers/{theirs[0].id}/reveal", htmx=True)
    return users


def rows_behind(session, url: str) -> int:
    """The rows the linked list shows, over all its pages."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    mark = re.compile(ROW_MARKS[path])
    total, seen = 0, set()
    while url and url not in seen:
        seen.add(url)
        response = session.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        total += len(mark.findall(html))
        found = NEXT.search(html)
        url = found.group(1).replace("&amp;", "&") if found else None
    return total


def home_counts(session) -> dict:
    # The receptionist's home is the desk: / takes her there.
    html = session.get("/", follow_redirects=True).get_data(as_text=True)
    return {key: (href.replace("&amp;", "&"), int(n)) for href, key, n in COUNT.findall(html)}


EXPECTED_KEYS = {
    "rep": {"registered_today", "my_customers", "due_today", "overdue", "protection_ending"},
    "manager": {"registered_today", "pending_first", "public_pool", "open_disputes", "deals_waiting"},
    "auditor": {"registered_today", "pending_second", "reveals_today"},
    "admin": {"registered_today", "users", "customers"},
    "reception": {"registered_today"},
}


@pytest.mark.parametrize("role", sorted(set(ROLES) - {"broker"}))
def test_each_home_count_is_the_length_of_the_list_it_opens(office, login, role):
    session = login(office[role])
    counts = home_counts(session)
    assert set(counts) == EXPECTED_KEYS[role]
    for key, (url, number) in counts.items():
        assert rows_behind(session, url) == number, f"{role}: {key} says {number}, {url} lists otherwise"


def test_the_counts_are_the_viewers_own(office, login):
    """The rep's "registered today" is their own, the manager's queue is the team's."""
    rep = home_counts(login(office["rep"]))
    assert rep["registered_today"][1] == 3 and rep["my_customers"][1] == 5
    assert (rep["due_today"][1], rep["overdue"][1], rep["protection_ending"][1]) == (1, 1, 1)
    manager = home_counts(login(office["manager"]))
    # What the manager's list holds of today: the rep's three, the colleague's two, the pool's two.
    assert manager["registered_today"][1] == 7
    # The team's first reviews: the rep's four (not the one at the second level), the colleague's
    # first, and the two unowned pool customers.
    assert manager["pending_first"][1] == 7
    assert manager["open_disputes"][1] == 2 and manager["public_pool"][1] == 2
    other = home_counts(login(office["other_manager"]))
    assert (
        other["pending_first"][1] == 4 and other["open_disputes"][1] == 1
    )  # other_rep's two, the pool's two
    auditor = home_counts(login(office["auditor"]))
    assert auditor["pending_second"][1] == 2 and auditor["reveals_today"][1] == 2


def test_a_groups_day_and_pool_are_counted_up_to_the_cap_and_say_over(office, login, monkeypatch):
    """At a group's scale a manager's home counted the 550,000 customers of the pool (0.6 s): the
    day's registrations and the pool stop at HOME_COUNT_CAP and say "over" wherever they show."""
    monkeypatch.setattr("villa.home.HOME_COUNT_CAP", 5)
    manager = login(office["manager"]).get("/").get_data(as_text=True)
    assert "今日已登记超过5位客户" in manager  # 7 of today on the manager's list
    assert re.search(r'data-testid="count-registered_today" data-count="5" data-more="true"', manager)
    # The pool's two are under the cap: counted exactly, no "over".
    assert re.search(r'data-testid="count-public_pool" data-count="2"><strong>2</strong>', manager)
    monkeypatch.setattr("villa.home.HOME_COUNT_CAP", 1)
    manager = login(office["manager"]).get("/").get_data(as_text=True)
    pool = r'data-testid="count-public_pool" data-count="1" data-more="true"><strong>1\+</strong>'
    assert re.search(pool, manager)
    desk = login(office["reception"])
    page = desk.get("/reception/").get_data(as_text=True)
    assert "今日已登记超过1位客户" in page and 'data-more="true"' in page
    listed = desk.get("/reception/today").get_data(as_text=True)
    assert "显示最新的" in listed and "共超过1条" in listed
    monkeypatch.setattr("villa.home.HOME_COUNT_CAP", 1000)
    manager = login(office["manager"]).get("/").get_data(as_text=True)
    assert "今日已登记7位客户" in manager and "data-more" not in manager


def test_a_capped_review_queue_says_so_and_pages_on(make_user, make_customer, login):
    manager = make_user("manager")
    rep = make_user("rep", manager=manager)
    desk = make_user("reception")
    start = now() - timedelta(days=30)
    for n in range(QUEUE_LIMIT + 3):
        make_customer(owner=rep, registered_by=desk, registered_at=start + timedelta(minutes=n))
    session = login(manager)
    first = session.get("/review/").get_data(as_text=True)
    assert first.count('data-testid="review-row"') == QUEUE_LIMIT
    assert f"显示最早的{QUEUE_LIMIT}条，共{QUEUE_LIMIT + 3}条" in first
    next_url = NEXT.search(first).group(1).replace("&amp;", "&")
    second = session.get(next_url).get_data(as_text=True)
    assert second.count('data-testid="review-row"') == 3
    assert 'data-testid="review-next"' not in second and 'data-testid="review-previous"' in second
    # Each page counts the whole queue, and the second goes on where the first stopped.
    for page in (first, second):
        assert f"{QUEUE_LIMIT + 3}条登记待审核" in page
    assert f"显示第{QUEUE_LIMIT + 1}–{QUEUE_LIMIT + 3}条，共{QUEUE_LIMIT + 3}条" in second
    shown = [re.findall(r'data-customer-id="(\d+)"', page) for page in (first, second)]
    queue = [str(c.id) for c in Customer.select().order_by(Customer.registered_at, Customer.id)]
    assert shown[0] + shown[1] == queue  # oldest first, none twice, none left out
    assert home_counts(session)["pending_first"][1] == QUEUE_LIMIT + 3
    oldest = Customer.select().order_by(Customer.registered_at).first()
    assert f'data-customer-id="{oldest.id}"' in first


def test_a_long_queue_is_counted_up_to_the_cap_and_still_pages_on(
    make_user, make_customer, login, monkeypatch
):
    """A group's queue holds tens of thousands: it is counted up to QUEUE_COUNT_CAP and says "over",
    the home page's figure too, and the pages still go on, oldest first, to the last registration."""
    monkeypatch.setattr("villa.review.QUEUE_COUNT_CAP", QUEUE_LIMIT + 5)
    manager = make_user("manager")
    rep = make_user("rep", manager=manager)
    desk = make_user("reception")
    start = now() - timedelta(days=30)
    waiting = 2 * QUEUE_LIMIT + 3
    for n in range(waiting):
        make_customer(owner=rep, registered_by=desk, registered_at=start + timedelta(minutes=n))
    session = login(manager)
    pages = [session.get("/review/").get_data(as_text=True)]
    while (found := NEXT.search(pages[-1])) and len(pages) < 5:
        pages.append(session.get(found.group(1).replace("&amp;", "&")).get_data(as_text=True))
    assert [page.count('data-testid="review-row"') for page in pages] == [QUEUE_LIMIT, QUEUE_LIMIT, 3]
    for page in pages:
        assert f"超过{QUEUE_LIMIT + 5}条登记待审核" in page and 'data-more="true"' in page
    assert f"显示最早的{QUEUE_LIMIT}条，共超过{QUEUE_LIMIT + 5}条" in pages[0]
    assert f"显示第{QUEUE_LIMIT + 1}–{2 * QUEUE_LIMIT}条，共超过{QUEUE_LIMIT + 5}条" in pages[1]
    shown = [i for page in pages for i in re.findall(r'data-customer-id="(\d+)"', page)]
    queue = [str(c.id) for c in Customer.select().order_by(Customer.registered_at, Customer.id)]
    assert shown == queue  # oldest first, none twice, none left out
    home = session.get("/").get_data(as_text=True)
    assert home_counts(session)["pending_first"][1] == QUEUE_LIMIT + 5
    cap = QUEUE_LIMIT + 5
    card = f'data-testid="count-pending_first" data-count="{cap}" data-more="true"><strong>{cap}+</strong>'
    assert card in home
    # Past the last page: an empty page that says so, not an error.
    beyond = session.get("/review/?page=9")
    assert beyond.status_code == 200 and "本页没有登记" in beyond.get_data(as_text=True)
