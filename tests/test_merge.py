"""Duplicates: the scan, merging two records into one, and undoing the merge exactly."""

import json
import re
from datetime import date, timedelta

import pytest

from tests.conftest import raw_column
from villa.crypto import EncryptedField, blind_index
from villa.customers import set_alt_phone
from villa.db import db
from villa.duplicates import REASONS, MergeError, merge, scan, undo
from villa.followups import add_followup, refresh_followup_times
from villa.models import (
    AccessLog,
    AuditLog,
    ChangeRequest,
    CorrectionLink,
    Customer,
    Dispute,
    FollowUp,
    Material,
    MaterialGiven,
    MergeLog,
    OutboxMessage,
    Review,
    Visit,
    now,
    office_today,
)
from villa.registration import find_known

ID_NUMBER = "11010519491231002X"
REFERENCING = (
    Visit,
    FollowUp,
    Review,
    OutboxMessage,
    MaterialGiven,
    Dispute,
    AuditLog,
    AccessLog,
    CorrectionLink,
    ChangeRequest,
)
ENCRYPTED = [f for f in Customer._meta.sorted_fields if isinstance(f, EncryptedField)]
PLAIN = [f for f in Customer._meta.sorted_fields if not isinstance(f, EncryptedField)]


def fresh(customer) -> Customer:
    return Customer.get_by_id(customer.id)


def with_alt_phone(customer, phone):
    set_alt_phone(customer, phone)
    customer.save()
    return customer


def stored(customer_id) -> dict:
    """Every column as the database holds it; encrypted ones decrypted (their nonces change)."""
    plain = Customer.select(*PLAIN).where(Customer.id == customer_id)
    row = dict(zip([f.name for f in PLAIN], db.execute_sql(*plain.sql()).fetchone(), strict=True))
    decrypted = Customer.get_by_id(customer_id)
    for field in ENCRYPTED:
        row[field.name] = (getattr(decrypted, field.name), raw_column(field, customer_id) is None)
    return row


def rows_of(customer_id) -> dict:
    return {
        m.__name__: sorted(r.id for r in m.select().where(m.customer == customer_id)) for m in REFERENCING
    }


@pytest.fixture
def admin(make_user):
    return make_user("admin")


@pytest.fixture
def pair(make_user, make_customer):
    """Two records of one person, each with its own history in every table that points at it."""
    rep_a, rep_b = make_user("rep"), make_user("rep")
    kept = make_customer(owner=rep_a, name="陈静", phone="13900001111", budget="500万", grade="B")
    gone = make_customer(
        owner=rep_b,
        name="陈静",
        phone="13800002222",
        id_number=ID_NUMBER,
        budget="900万",
        unit_type="独栋",
        next_followup_on=date.today() + timedelta(days=2),
    )
    with_alt_phone(gone, "13700003333")
    material = Material.create(name="户型图")
    for customer, rep in ((kept, rep_a), (gone, rep_b)):
        Visit.create(customer=customer, received_by=rep, rep=rep, is_first=True)
        for n in range(2):
            FollowUp.create(customer=customer, author=rep, kind="call", content=f"第{n}次回访")
        Review.create(customer=customer, level=1, decision="approved", reviewer=rep)
        OutboxMessage.create(customer=customer, kind="approval", body="您好")
        MaterialGiven.create(customer=customer, material=material, given_by=rep)
        Dispute.create(customer=customer, claimant=rep, reason="撞单")
        AuditLog.create(actor=rep, action="registered", customer=customer)
        AccessLog.create(actor=rep, action="reveal", customer=customer, fields="phone")
        link = CorrectionLink.create(
            customer=customer, nonce=f"n{customer.id}", created_by=rep, expires_at=now() + timedelta(days=1)
        )
        ChangeRequest.create(customer=customer, link=link, changes=json.dumps({"budget": "1000万"}))
    refresh_followup_times((kept.id, gone.id))  # as add_followup would have kept them
    return fresh(kept), fresh(gone)


# The scan


def test_scan_finds_likely_duplicates_and_nothing_else(make_customer):
    phone_owner = make_customer(name="甲", phone="13900000001")
    alt_is_phone = with_alt_phone(make_customer(name="乙", phone="13900000002"), "13900000001")
    shared_1 = with_alt_phone(make_customer(name="丙", phone="13900000003"), "13600000009")
    shared_2 = with_alt_phone(make_customer(name="丁", phone="13900000004"), "13600000009")
    tail_1 = make_customer(name="刘洋", phone="13911115678")
    tail_2 = make_customer(name="刘洋", phone="18622225678")
    make_customer(name="刘洋", phone="18633330000")  # same name, another tail
    make_customer(name="戊", phone="13955555678")  # same tail, another name
    gone = with_alt_phone(make_customer(name="己", phone="13900000005"), "13600000009")
    Customer.update(anonymised_at=now()).where(Customer.id == gone.id).execute()

    found = scan()

    assert [(c.a.id, c.b.id) for c in found] == [
        (tail_1.id, tail_2.id),
        (shared_1.id, shared_2.id),
        (phone_owner.id, alt_is_phone.id),
    ]
    assert [c.reason for c in found] == [
        REASONS["name_phone_tail"],
        REASONS["same_alt_phone"],
        REASONS["alt_is_phone"],
    ]


def test_scan_lists_a_pair_once_with_its_strongest_reason(make_customer):
    a = with_alt_phone(make_customer(name="周周", phone="13900000011"), "13600000012")
    b = with_alt_phone(make_customer(name="周周", phone="13600000012"), "13600000012")
    found = scan()
    assert [(c.a.id, c.b.id, c.reason) for c in found] == [(a.id, b.id, REASONS["alt_is_phone"])]


# Merging


def test_merge_keeps_every_row_applies_choices_and_leaves_no_personal_data(pair, admin):
    kept, gone = pair
    before_kept, before_gone = rows_of(kept.id), rows_of(gone.id)
    log = merge(kept, gone, {"budget": "absorbed", "phone": "survivor", "id_number": "absorbed"}, admin)

    after = rows_of(kept.id)
    for model in REFERENCING:
        name = model.__name__
        expected = sorted(before_kept[name] + before_gone[name])
        if model is AuditLog:  # plus the survivor's own "merged" entry
            assert set(expected) < set(after[name])
        else:
            assert after[name] == expected, name
    assert FollowUp.select().where(FollowUp.customer == kept.id).count() == 4
    assert Visit.select().where(Visit.customer == kept.id).count() == 2
    assert json.loads(log.moved)["follow_up"] == before_gone["FollowUp"]

    survivor = fresh(kept)
    assert (survivor.budget, survivor.phone, survivor.unit_type) == ("900万", "+8613900001111", "")
    assert survivor.phone_index == blind_index("phone", "+8613900001111")
    assert survivor.id_number == ID_NUMBER and survivor.id_index == blind_index("id", ID_NUMBER)
    assert survivor.sensitive_consent_at is not None  # came with the ID number it now stores
    assert survivor.owner_id == kept.owner_id
    assert survivor.next_followup_on == gone.next_followup_on

    tomb = fresh(gone)
    assert tomb.name == f"已合并#{gone.id}" and tomb.anonymised_at is not None
    assert tomb.owner_id is None
    assert tomb.phone_index == f"merged:{gone.id}" and not re.fullmatch(r"[0-9a-f]{64}", tomb.phone_index)
    for column in ("alt_phone", "alt_phone_index", "id_number", "id_index", "address", "wechat"):
        assert getattr(tomb, column) is None, column
    assert find_known("13800002222") is None
    assert find_known("13700003333") is None
    assert find_known(id_number=ID_NUMBER).customer.id == kept.id

    merged = {
        a.customer_id: json.loads(a.changes) for a in AuditLog.select().where(AuditLog.action == "merged")
    }
    assert merged[kept.id]["from"] == gone.id and merged[gone.id] == {"into": kept.id}
    snapshot = json.loads(MergeLog.get_by_id(log.id).snapshot)
    assert snapshot["absorbed"]["phone"] == "+8613800002222"
    assert b"13800002222" not in raw_column(MergeLog.snapshot, log.id)


def test_merge_can_take_the_absorbed_phone_and_owner(pair, admin):
    kept, gone = pair
    merge(kept, gone, {"phone": "absorbed", "owner": "absorbed"}, admin)
    survivor = fresh(kept)
    assert survivor.phone == "+8613800002222"
    assert survivor.phone_index == blind_index("phone", "+8613800002222")
    assert survivor.owner_id == gone.owner_id
    assert find_known("13800002222").customer.id == kept.id
    assert find_known("13900001111") is None


def test_merge_refuses_a_tombstone_a_record_with_itself_and_unknown_fields(pair, admin):
    kept, gone = pair
    with pytest.raises(MergeError):
        merge(kept, kept, {}, admin)
    with pytest.raises(MergeError):
        merge(kept, gone, {"registered_by": "absorbed"}, admin)
    with pytest.raises(MergeError):
        merge(kept, gone, {"budget": "both"}, admin)
    merge(kept, gone, {}, admin)
    with pytest.raises(MergeError):
        merge(fresh(kept), fresh(gone), {}, admin)


# Undoing


def test_undo_restores_both_records_and_moves_back_exactly_the_moved_rows(pair, admin):
    kept, gone = pair
    before = {kept.id: stored(kept.id), gone.id: stored(gone.id)}
    rows_before = {kept.id: rows_of(kept.id), gone.id: rows_of(gone.id)}
    log = merge(kept, gone, {"phone": "absorbed", "budget": "absorbed", "owner": "absorbed"}, admin)
    later = FollowUp.create(customer=kept.id, author=kept.owner, kind="visit", content="合并后")

    undo(log, admin)

    for customer_id, columns in before.items():
        assert stored(customer_id) == columns, customer_id
    for customer_id in (kept.id, gone.id):
        now_rows = rows_of(customer_id)
        for model in REFERENCING:
            name = model.__name__
            extra = set(now_rows[name]) - set(rows_before[customer_id][name])
            assert set(rows_before[customer_id][name]) <= set(now_rows[name]), name
            if model is FollowUp and customer_id == kept.id:
                assert extra == {later.id}
            elif model is not AuditLog:  # the audit log gains "merged" and "merge_undone"
                assert not extra, name
    assert find_known("13800002222").customer.id == gone.id
    assert find_known("13900001111").customer.id == kept.id
    assert find_known(id_number=ID_NUMBER).customer.id == gone.id
    assert MergeLog.get_by_id(log.id).undone_by_id == admin.id
    assert AuditLog.select().where(AuditLog.action == "merge_undone").count() == 2


def test_merge_and_its_undo_work_out_the_followup_times_again(make_user, make_customer, admin):
    rep_a, rep_b = make_user("rep"), make_user("rep")
    kept, gone = make_customer(owner=rep_a, name="陈静"), make_customer(owner=rep_b, name="陈静")
    soon = office_today() + timedelta(days=3)
    g1 = add_followup(gone, rep_b, "call", "第一次", next_at=soon)
    k1 = add_followup(kept, rep_a, "call", "第一次", next_at=soon)
    g2 = add_followup(gone, rep_b, "call", "第二次", next_at=soon)
    k2 = add_followup(kept, rep_a, "call", "第二次")

    def times():
        done = {f.id: f.next_done_at for f in FollowUp.select().where(FollowUp.next_at.is_null(False))}
        return done, fresh(kept).first_followup_at, fresh(gone).first_followup_at

    before = times()
    assert before == ({g1.id: g2.created_at, k1.id: k2.created_at, g2.id: None}, k1.created_at, g1.created_at)
    log = merge(kept, gone, {}, admin)
    # On the survivor the two histories interleave; the tombstone has no follow-up left.
    assert times() == (
        {g1.id: k1.created_at, k1.id: g2.created_at, g2.id: k2.created_at},
        g1.created_at,
        None,
    )
    add_followup(fresh(kept), rep_a, "call", "合并后")  # stays with the survivor after the undo
    undo(log, admin)
    assert times() == before


def test_undo_twice_is_refused(pair, admin):
    kept, gone = pair
    log = merge(kept, gone, {}, admin)
    undo(MergeLog.get_by_id(log.id), admin)
    with pytest.raises(MergeError):
        undo(MergeLog.get_by_id(log.id), admin)


def test_undo_is_refused_while_a_later_merge_involves_the_records(pair, admin, make_customer):
    kept, gone = pair
    first = merge(kept, gone, {}, admin)
    third = make_customer(name="陈静", phone="13500004444")
    second = merge(fresh(third), fresh(kept), {}, admin)
    with pytest.raises(MergeError):
        undo(first, admin)
    undo(second, admin)
    undo(first, admin)
    assert fresh(gone).anonymised_at is None


def test_undo_is_refused_when_the_freed_phone_was_registered_again(pair, admin, make_customer):
    kept, gone = pair
    log = merge(kept, gone, {}, admin)
    newcomer = make_customer(phone="13800002222")
    with pytest.raises(MergeError):
        undo(log, admin)
    assert fresh(gone).anonymised_at is not None  # nothing half-done
    assert fresh(newcomer).phone_index == blind_index("phone", "+8613800002222")
    assert MergeLog.get_by_id(log.id).undone_at is None


# The admin pages


@pytest.fixture
def admin_session(admin, login):
    session = login(admin)
    session.get("/lang/en")
    return session


def test_duplicates_page_lists_pairs_masked(admin_session, make_customer):
    a = make_customer(name="王建国", phone="13900007777")
    b = with_alt_phone(make_customer(name="王建国", phone="13600008888"), "13900007777")
    page = admin_session.get("/admin/duplicates").get_data(as_text=True)
    assert f'data-testid="pair-{a.id}-{b.id}"' in page
    assert f"/admin/merge/{a.id}/{b.id}" in page
    assert "王**" in page and "王建国" not in page
    assert "13900007777" not in page and "139****7777" in page
    assert str(REASONS["alt_is_phone"]) in page


def test_compare_page_masks_and_the_merge_redirects_to_the_survivor(admin_session, pair):
    kept, gone = pair
    url = f"/admin/merge/{kept.id}/{gone.id}"
    page = admin_session.get(url).get_data(as_text=True)
    assert "13800002222" not in page and "138****2222" in page
    assert ID_NUMBER not in page and "陈静" not in page
    assert 'data-testid="field-budget"' in page

    assert admin_session.client.post(url, data={"survivor": "a"}).status_code == 400  # no CSRF token
    choices = {name: "a" for name in ("phone", "budget", "owner")} | {"budget": "b"}
    response = admin_session.post(url, {"survivor": "a", **choices})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/customers/{kept.id}")
    assert fresh(kept).budget == "900万" and fresh(gone).anonymised_at is not None


def test_compare_page_lets_the_newer_record_stay(admin_session, pair):
    kept, gone = pair
    response = admin_session.post(f"/admin/merge/{kept.id}/{gone.id}", {"survivor": "b", "phone": "a"})
    assert response.headers["Location"].endswith(f"/customers/{gone.id}")
    assert fresh(gone).phone == "+8613900001111" and fresh(kept).anonymised_at is not None


def test_merges_page_undoes_once(admin_session, pair, admin):
    kept, gone = pair
    log = merge(kept, gone, {}, admin)
    page = admin_session.get("/admin/merges").get_data(as_text=True)
    assert f'data-testid="undo-{log.id}"' in page
    response = admin_session.post(f"/admin/merges/{log.id}/undo")
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/merges")
    assert fresh(gone).anonymised_at is None
    again = admin_session.post(f"/admin/merges/{log.id}/undo", follow_redirects=True)
    assert "already been undone" in again.get_data(as_text=True)


ROUTES = [
    ("get", "/admin/duplicates"),
    ("get", "/admin/merge/{a}/{b}"),
    ("post", "/admin/merge/{a}/{b}"),
    ("get", "/admin/merges"),
    ("post", "/admin/merges/{log}/undo"),
]


@pytest.mark.parametrize("role", ["reception", "rep", "manager", "auditor"])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_only_admins_reach_duplicates_and_merges(role, method, path, login_as, pair, admin):
    kept, gone = pair
    log = merge(kept, gone, {}, admin)
    url = path.format(a=kept.id, b=gone.id, log=log.id)
    session = login_as(role)
    response = session.get(url) if method == "get" else session.post(url, {"survivor": "a"})
    assert response.status_code == 403
    assert MergeLog.get_by_id(log.id).undone_at is None
