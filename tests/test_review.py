"""Two-level review: the manager, then the audit team; rejections go back to the rep with a reason."""

import re
from datetime import timedelta

import pytest

from villa import review
from villa.models import AuditLog, Customer, OutboxMessage, Review, Setting, now
from villa.profile import update_field


@pytest.fixture
def office(make_user):
    """A team (manager, rep), the desk that registers, an auditor, and another team's manager."""
    manager = make_user("manager", display_name="王经理")
    return {
        "manager": manager,
        "rep": make_user("rep", manager=manager, display_name="李娜"),
        "desk": make_user("reception"),
        "auditor": make_user("auditor", display_name="审核员"),
        "other_manager": make_user("manager"),
    }


@pytest.fixture
def registration(office, make_customer):
    return make_customer(owner=office["rep"], registered_by=office["desk"], name="赵敏")


def status(customer) -> str:
    return Customer.get_by_id(customer.id).review_status


def row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="review-row-(\d+)" data-testid="review-row"', html)]


def test_manager_then_auditor_approve(office, registration, login):
    boss = login(office["manager"])
    page = boss.get("/review/").get_data(as_text=True)
    assert row_ids(page) == [registration.id]
    assert "赵敏" in page and 'data-testid="review-checklist"' in page and "姓名、电话与客户本人一致" in page
    assert registration.phone[3:] not in page  # the phone is masked in the queue

    response = boss.post(f"/review/{registration.id}/approve")
    assert response.status_code == 303 and response.headers["Location"].endswith("/review/")
    assert status(registration) == "pending_second"
    assert row_ids(boss.get("/review/").get_data(as_text=True)) == []

    audit = login(office["auditor"])
    assert row_ids(audit.get("/review/").get_data(as_text=True)) == [registration.id]
    assert audit.post(f"/review/{registration.id}/approve").status_code == 303
    assert status(registration) == "approved"

    decisions = [(r.level, r.decision, r.reviewer_id) for r in Review.select().order_by(Review.id)]
    assert decisions == [(1, "approved", office["manager"].id), (2, "approved", office["auditor"].id)]
    logged = AuditLog.select().where(AuditLog.action == "review_approved").order_by(AuditLog.id)
    assert [entry.change_map for entry in logged] == [{"level": 1}, {"level": 2}]
    # Approval messages are off unless the office turns them on.
    assert OutboxMessage.select().count() == 0
    page = boss.get(f"/customers/{registration.id}").get_data(as_text=True)
    assert page.count('data-testid="event-review_approved"') == 2
    assert 'data-testid="review-block"' in page and "审核员" in page


def test_approval_message_when_the_office_wants_one(office, registration):
    Setting.write("notify_on_approval", True)
    review.approve(registration, office["manager"])
    assert OutboxMessage.select().count() == 0
    review.approve(registration, office["auditor"])
    assert [m.kind for m in OutboxMessage.select()] == ["approval"]


def test_htmx_approve_answers_no_row_and_the_new_counts(office, registration, login):
    """The row goes (no row in the answer) and the heading's count comes out of band."""
    session = login(office["manager"])
    assert 'data-count="1"' in session.get("/review/").get_data(as_text=True)
    response = session.post(f"/review/{registration.id}/approve", {"level": "1"}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "<tr" not in html
    assert 'id="review-count"' in html and 'hx-swap-oob="true"' in html and 'data-count="0"' in html
    assert status(registration) == "pending_second"


@pytest.mark.parametrize("level", [1, 2])
def test_rejection_at_either_level_tells_the_customer_why(level, office, registration, login):
    if level == 2:
        review.approve(registration, office["manager"])
    reviewer = office["manager"] if level == 1 else office["auditor"]
    response = login(reviewer).post(
        f"/review/{registration.id}/reject", {"reason": "客户姓名与证件不符", "note": "请核对证件"}
    )
    assert response.status_code == 303
    assert status(registration) == "rejected"
    decision = Review.get(Review.decision == "rejected")
    assert (decision.level, decision.reason) == (level, "客户姓名与证件不符：请核对证件")
    message = OutboxMessage.get()
    assert message.kind == "rejection" and message.status == "to_send"
    assert "赵敏" in message.body and "请核对您登记的姓名与证件信息" in message.body
    assert "客户姓名与证件不符" not in message.body and "请核对证件" not in message.body
    national = registration.phone.removeprefix("+86")
    assert national not in message.body and national[-4:] not in message.body
    entry = AuditLog.get(AuditLog.action == "review_rejected")
    assert entry.change_map == {"level": level, "reason": "客户姓名与证件不符：请核对证件"}
    assert 'data-testid="event-review_rejected"' in login(office["rep"]).get(
        f"/customers/{registration.id}"
    ).get_data(as_text=True)


def test_a_typed_reason_alone_is_enough(office, registration):
    review.reject(registration, office["manager"], "  电话打不通  ")
    assert review.latest_rejections([registration])[registration.id].reason == "电话打不通"


@pytest.mark.parametrize("data", [{}, {"reason": "   "}, {"reason": "", "note": ""}])
def test_rejection_without_a_reason_is_422_and_changes_nothing(data, office, registration, login):
    boss = login(office["manager"])
    response = boss.post(f"/review/{registration.id}/reject", data)
    assert response.status_code == 422
    assert 'data-testid="review-error"' in response.get_data(as_text=True)
    fragment = boss.post(f"/review/{registration.id}/reject", {**data, "level": "1"}, htmx=True)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 422 and "<html" not in html
    assert f'<tr id="review-row-{registration.id}"' in html and 'data-testid="review-error"' in html
    assert status(registration) == "pending_first"
    assert Review.select().count() == 0 and OutboxMessage.select().count() == 0


def test_an_overlong_reason_is_refused(office, registration):
    with pytest.raises(review.ReviewRefused):
        review.reject(registration, office["manager"], "长" * 501)
    assert status(registration) == "pending_first"


def test_the_rep_resubmits_and_the_record_starts_over(office, registration, login, make_user):
    review.reject(registration, office["manager"], "购房需求信息不完整")
    assert login(make_user("rep")).post(f"/review/{registration.id}/resubmit").status_code == 403
    assert login(office["auditor"]).post(f"/review/{registration.id}/resubmit").status_code == 403
    owner = login(office["rep"])
    page = owner.get(f"/customers/{registration.id}").get_data(as_text=True)
    assert 'data-testid="resubmit-review"' in page and "购房需求信息不完整" in page
    response = owner.post(f"/review/{registration.id}/resubmit")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/customers/{registration.id}")
    assert status(registration) == "pending_first"
    assert AuditLog.select().where(AuditLog.action == "resubmitted").count() == 1
    page = owner.get(f"/customers/{registration.id}").get_data(as_text=True)
    assert 'data-testid="event-resubmitted"' in page and 'data-testid="resubmit-review"' not in page
    # Twice is once: the record is no longer waiting to be fixed.
    assert owner.post(f"/review/{registration.id}/resubmit").status_code == 303
    assert AuditLog.select().where(AuditLog.action == "resubmitted").count() == 1
    assert owner.post(f"/review/{registration.id}/resubmit", htmx=True).status_code == 409


def test_the_registrant_may_resubmit_too(office, registration):
    review.reject(registration, office["manager"], "来源渠道登记有误")
    review.resubmit(registration, office["desk"])
    assert status(registration) == "pending_first"


def test_changing_the_name_after_approval_sends_it_back_to_review(office, registration):
    review.approve(registration, office["manager"])
    review.approve(registration, office["auditor"])
    update_field(Customer.get_by_id(registration.id), office["rep"], "name", "赵敏敏")
    assert status(registration) == "pending_first"
    assert registration.id in [c.id for c in review.queue(office["manager"]).customers]


PENDING_FIRST = ["registrant", "admin", "reception", "rep", "owner", "auditor", "other_manager"]


@pytest.mark.parametrize("who", PENDING_FIRST)
@pytest.mark.parametrize("action", ["approve", "reject"])
def test_who_may_not_review_a_first_level_item(who, action, office, login, make_user, make_customer):
    if who == "registrant":
        # A manager who registered the customer himself does not review it.
        customer = make_customer(owner=office["rep"], registered_by=office["manager"])
        actor = office["manager"]
    else:
        customer = make_customer(owner=office["rep"], registered_by=office["desk"])
        actor = office.get(who) or (office["rep"] if who == "owner" else make_user(who))
    response = login(actor).post(f"/review/{customer.id}/{action}", {"reason": "疑似重复登记"})
    assert response.status_code == 403
    assert status(customer) == "pending_first" and Review.select().count() == 0


@pytest.mark.parametrize("who", ["manager", "other_manager", "admin", "rep"])
def test_only_the_audit_team_reviews_the_second_level(who, office, registration, login, make_user):
    review.approve(registration, office["manager"])
    actor = office.get(who) or make_user(who)
    assert login(actor).post(f"/review/{registration.id}/approve").status_code == 403
    assert status(registration) == "pending_second"


def test_the_auditor_may_not_review_the_first_level_nor_edit(office, registration, login):
    audit = login(office["auditor"])
    assert audit.post(f"/review/{registration.id}/approve").status_code == 403
    assert (
        audit.post(f"/customers/{registration.id}/fields/budget", {"budget": "500-800万"}).status_code == 403
    )
    review.approve(registration, office["manager"])
    assert (
        audit.post(f"/customers/{registration.id}/fields/budget", {"budget": "500-800万"}).status_code == 403
    )
    assert Customer.get_by_id(registration.id).budget == ""


@pytest.mark.parametrize("role", ["rep", "reception", "admin"])
def test_the_queue_is_for_reviewers_only(role, login_as):
    assert login_as(role).get("/review/").status_code == 403


def test_unknown_customer_is_404(office, login):
    assert login(office["manager"]).post("/review/999999/approve").status_code == 404


def test_when_the_team_manager_registered_it_another_manager_reviews(office, make_customer):
    customer = make_customer(owner=office["rep"], registered_by=office["manager"])
    assert not review.may_review(office["manager"], customer)
    assert review.may_review(office["other_manager"], customer)
    assert customer.id in [c.id for c in review.queue(office["other_manager"]).customers]


def test_each_managers_queue_is_exactly_what_they_review_each_once(office, make_user, make_customer):
    # The queue reads three sets (unowned; the team's and managerless reps'; registered by the
    # owner's own manager) and puts them together: every owner and registrant against the rule.
    manager, other = office["manager"], office["other_manager"]
    owners = [None, office["rep"], make_user("rep", manager=other), make_user("rep"), manager, other]
    registrants = [office["desk"], manager, other, office["rep"]]
    for owner in owners:
        for registrant in registrants:
            make_customer(owner=owner, registered_by=registrant)
    for reviewer in (manager, other):
        shown = [c.id for c in review.queue(reviewer).customers]
        expected = [c.id for c in Customer.select().order_by(Customer.registered_at, Customer.id)
                    if review.reviews(reviewer, c)]  # fmt: skip
        assert shown == expected and len(set(shown)) == len(shown)
        assert review.queue_count(reviewer) == (len(expected), False)
        assert 0 < len(expected) < len(owners) * len(registrants)


def test_two_reviewers_at_once_one_decides(office, registration, login, make_user):
    # A rep with no manager is every manager's: two managers may review the same registration.
    registration.owner.manager = None
    registration.owner.save()
    colleague = make_user("manager")
    stale = Customer.get_by_id(registration.id)
    review.approve(registration, office["manager"])
    with pytest.raises(review.ReviewRefused) as refused:
        review.approve(stale, colleague)
    assert refused.value.kind == "already_reviewed"
    # From a page that still shows the row: 409 and a small fragment, not a 403.
    response = login(colleague).post(
        f"/review/{registration.id}/reject", {"reason": "x", "level": "1"}, htmx=True
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and 'data-testid="review-stale"' in html and "<html" not in html
    assert Review.select().count() == 1 and status(registration) == "pending_second"


def test_queue_is_oldest_first_and_the_managers_own_team(office, make_user, make_customer, login):
    other_rep = make_user("rep", manager=office["other_manager"])
    free_rep = make_user("rep")  # no manager: every manager sees their customers
    moment = now()
    newest = make_customer(owner=office["rep"], registered_at=moment - timedelta(hours=1))
    oldest = make_customer(owner=office["rep"], registered_at=moment - timedelta(days=3))
    middle = make_customer(owner=free_rep, registered_at=moment - timedelta(days=1))
    pool = make_customer(owner=None, registered_by=office["desk"], registered_at=moment - timedelta(hours=2))
    theirs = make_customer(owner=other_rep, registered_at=moment - timedelta(days=5))
    done = make_customer(owner=office["rep"], registered_at=moment - timedelta(days=9))
    done.review_status = "approved"
    done.save()
    page = login(office["manager"]).get("/review/").get_data(as_text=True)
    assert row_ids(page) == [oldest.id, middle.id, pool.id, newest.id]
    assert theirs.id not in row_ids(page)
    assert "3天" in page
    other = login(office["other_manager"]).get("/review/").get_data(as_text=True)
    assert row_ids(other) == [theirs.id, middle.id, pool.id]


def test_queue_filters(office, make_customer, make_user, login):
    colleague = make_user("rep", manager=office["manager"])
    moment = now()
    a = make_customer(owner=office["rep"], channel="broker", registered_at=moment - timedelta(days=10))
    b = make_customer(owner=colleague, channel="walk_in", registered_at=moment - timedelta(days=2))
    boss = login(office["manager"])

    def shown(query):
        return row_ids(boss.get(f"/review/?{query}").get_data(as_text=True))

    assert shown("channel=broker") == [a.id]
    assert shown(f"rep={colleague.id}") == [b.id]
    since = (moment - timedelta(days=5)).date().isoformat()
    assert shown(f"registered_from={since}") == [b.id]
    assert shown(f"registered_to={since}") == [a.id]
    assert shown("registered_from=not-a-date&rep=x") == [a.id, b.id]


def test_batch_approval(office, make_customer, login):
    mine = [make_customer(owner=office["rep"]) for _ in range(3)]
    own_registration = make_customer(owner=office["rep"], registered_by=office["manager"])
    boss = login(office["manager"])
    ids = [mine[0].id, mine[1].id, own_registration.id, 999999]
    response = boss.post("/review/batch", {"ids": [str(i) for i in ids]})
    assert response.status_code == 303
    assert [status(c) for c in mine] == ["pending_second", "pending_second", "pending_first"]
    assert status(own_registration) == "pending_first"
    page = boss.get("/review/").get_data(as_text=True)
    assert "已通过2条登记" in page and "2条未能通过" in page
    approved, refused = review.batch_approve([mine[2].id, mine[2].id], office["manager"])
    assert [c.id for c in approved] == [mine[2].id] and refused == []


def test_the_rejected_record_waits_in_the_reps_day_with_its_reason(office, registration, login):
    review.reject(registration, office["manager"], "联系电话无法接通或不是本人")
    rep = login(office["rep"])
    home = rep.get("/").get_data(as_text=True)
    section = home[home.index('data-testid="to-fix"') :]
    assert "赵敏" in section and "联系电话无法接通或不是本人" in section
    assert f'data-testid="resubmit-{registration.id}"' in section
    fragment = rep.post(f"/review/{registration.id}/resubmit", {"next": "/"}, htmx=True)
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert status(registration) == "pending_first"
    assert 'data-testid="to-fix"' not in rep.get("/").get_data(as_text=True)


def test_glance(office, make_customer):
    full = make_customer(
        owner=office["rep"],
        name="孙立",
        gender="M",
        age_band="35-44",
        unit_type="独栋",
        area_band="300-400㎡",
        budget="1000-1500万",
        purpose="own_use",
        hukou_local=True,
        homes_owned=0,
        id_number="11010519491231002X",
    )
    seen = review.glance(full)
    assert seen["completeness"] == 100 and seen["missing"] == []
    assert seen["id_valid"] == "present" and seen["consent"] is True
    assert seen["eligibility"].status == "eligible"
    assert seen["near_duplicates"] == 0
    bare = make_customer(owner=office["rep"], name="孙立")
    seen = review.glance(bare)
    assert seen["completeness"] < 50 and "budget" in seen["missing"]
    assert seen["id_valid"] == "absent" and seen["eligibility"].status == "to_verify"
    assert seen["near_duplicates"] == 1  # same name, registered within 30 days
    assert review.glances([full, bare])[bare.id]["near_duplicates"] == 1


def test_same_name_and_alternate_phone_is_a_near_duplicate(office, make_customer):
    from villa.customers import set_alt_phone

    old = make_customer(owner=office["rep"], name="周杰", registered_at=now() - timedelta(days=200))
    set_alt_phone(old, "13800001234")
    old.save()
    new = make_customer(owner=office["rep"], name="周杰")
    set_alt_phone(new, "13800001234")
    new.save()
    stranger = make_customer(owner=office["rep"], name="周杰伦", registered_at=now() - timedelta(days=1))
    assert review.glance(new)["near_duplicates"] == 1
    assert review.glance(stranger)["near_duplicates"] == 0


def test_near_duplicates_are_counted_as_the_rule_says_for_a_whole_page(office, make_customer):
    """The page's counts (by the database, all rows at once) equal _near applied to every pair: the
    30 days inclusive on either side, a shared alternate phone outside them counted once, inside
    them not twice, another name never."""
    from villa.customers import set_alt_phone

    base = now() - timedelta(days=100)
    at = {n: base + timedelta(days=n) for n in (0, 29, 30, 31, 60, 90)}
    made = []

    def customer(name, day, alt=None, phone=None):
        c = make_customer(owner=office["rep"], name=name, registered_at=at[day], phone=phone)
        if alt:
            set_alt_phone(c, alt)
            c.save()
        made.append(c)
        return c

    customer("吴昊", 0, alt="13900000001")
    customer("吴昊", 29)
    customer("吴昊", 30, alt="13900000001")  # within 30 days of the first and shares its alternate
    customer("吴昊", 31)
    customer("吴昊", 90, alt="13900000001")  # far in time, same alternate phone
    customer("吴昊", 60, phone="13900000002")
    customer("吴昊", 0, alt="13900000002")  # its alternate is the other's own phone
    customer("吴昊天", 29, alt="13900000001")  # another name: never
    customer("郑洁", 60)
    customer("郑洁", 90)
    counts = review.near_duplicate_counts(made)
    expected = {c.id: sum(1 for o in made if review._near(c, o)) for c in made}
    assert counts == expected
    assert expected[made[0].id] == 4 and expected[made[-1].id] == 1 and expected[made[7].id] == 0
    # One row alone counts the same as within its page.
    assert review.near_duplicate_counts([made[4]]) == {made[4].id: expected[made[4].id]}


def test_a_decision_comes_back_to_the_same_filtered_queue(office, registration, login):
    boss = login(office["manager"])
    response = boss.post(f"/review/{registration.id}/approve?channel=walk_in&_external=1&next=//evil")
    location = response.headers["Location"]
    assert response.status_code == 303 and location.startswith("/review/?")
    assert "channel=walk_in" in location and "evil" not in location and "_external" not in location


def test_the_shortcuts_load_on_the_queue_only(office, registration, login):
    boss = login(office["manager"])
    assert "js/review.js" in boss.get("/review/").get_data(as_text=True)
    assert "js/review.js" not in boss.get("/").get_data(as_text=True)
    assert "<script>" not in boss.get("/review/").get_data(as_text=True)
