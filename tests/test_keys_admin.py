"""Key rotation from the admin page: started there, driven step by step by htmx, resumable.

The key file is shared by the whole test session: versions are compared with the start of a test.
"""

import json

import pytest

from villa import crypto, keys
from villa.customers import search_customers, set_alt_phone
from villa.instance import check_startup, verify_keys
from villa.models import AuditLog, Customer, Setting
from villa.registration import find_known
from villa.retention import anonymise
from villa.web.admin import keys as admin_keys

from .conftest import raw_column

ID_NUMBER = "11010519491231002X"
ENCRYPTED = (Customer.phone, Customer.address)


@pytest.fixture(autouse=True)
def small_steps(monkeypatch):
    monkeypatch.setattr(admin_keys, "STEP_BATCH", 2)
    monkeypatch.setattr(keys, "INDEX_GRACE_SECONDS", 0)
    yield
    # A failed test must not leave the session's key file in the middle of an index rotation.
    crypto.keyring().end_index_rotation()


@pytest.fixture
def admin(login_as):
    return login_as("admin")


@pytest.fixture
def office(make_user, make_customer):
    """Five customers with an address; one with an alternate phone, one with an ID number."""
    rep = make_user("rep")
    customers = [make_customer(owner=rep, address=f"杭州市西湖区{n}号") for n in range(4)]
    customers.append(make_customer(owner=rep, id_number=ID_NUMBER, address="上海市浦东新区"))
    set_alt_phone(customers[0], "13700001111")
    customers[0].save()
    return rep, customers


def raw_index(field, row_id):
    """A blind-index column as stored (conftest's raw_column reads bytes; these are text)."""
    return field.model.select(field).where(field.model.id == row_id).scalar()


def steps(session, limit=50) -> list[str]:
    """POST the step endpoint as htmx would, until the fragment says the rotation is complete."""
    answers = []
    for _ in range(limit):
        response = session.post("/admin/keys/step", htmx=True)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        answers.append(html)
        if 'data-testid="rotation-finished"' in html:
            return answers
    raise AssertionError("the rotation did not finish")


def test_data_key_rotation_through_the_page_keeps_everyone_readable(admin, office):
    _, customers = office
    before = crypto.keyring().current
    page = admin.get("/admin/keys").get_data(as_text=True)
    assert f'data-testid="data-key-version">{before}<' in page

    response = admin.post("/admin/keys/rotate", {"confirm": str(before + 1)})
    assert response.status_code == 303
    page = admin.get("/admin/keys").get_data(as_text=True)
    assert 'data-testid="rotation-in-progress"' in page
    assert 'hx-trigger="load delay:200ms"' in page

    answers = steps(admin)
    first = answers[0]
    assert "<html" not in first and "<progress" in first and 'hx-trigger="load delay:200ms"' in first
    assert "hx-trigger" not in answers[-1]  # the last answer stops the polling
    version = before + 1
    assert crypto.keyring().current == version
    for original in customers:
        stored = Customer.get_by_id(original.id)
        assert (stored.phone, stored.address, stored.id_number) == (
            original.phone,
            original.address,
            original.id_number,
        )
        for field in ENCRYPTED:
            assert crypto.keyring().key_version(raw_column(field, original.id)) == version
    assert crypto.keyring().key_version(raw_column(Customer.id_number, customers[-1].id)) == version
    assert Setting.read(keys.PROGRESS_KEY) is None
    entry = AuditLog.get(AuditLog.action == "keys_rotated")
    assert entry.change_map == {"kind": "data", "version": version}
    verify_keys()


def test_an_interrupted_rotation_resumes_on_the_next_visit(login, make_user, office):
    _, customers = office
    admin_user = make_user("admin")
    first_tab = login(admin_user)
    before = crypto.keyring().current
    kept = len(json.loads(crypto.keyring().path.read_text())["data_keys"])
    first_tab.post("/admin/keys/rotate", {"confirm": str(before + 1)})
    first_tab.post("/admin/keys/step", htmx=True)  # then the tab is closed

    state = Setting.read(keys.PROGRESS_KEY)
    assert state["rows_done"] == 2 and state["version"] == before + 1
    later = login(admin_user)
    page = later.get("/admin/keys").get_data(as_text=True)
    assert 'data-testid="rotation-in-progress"' in page
    assert 'data-testid="rotate-data-key"' not in page  # no second rotation while this one runs
    assert 'value="2"' in page and "<progress" in page

    steps(later)
    assert crypto.keyring().current == before + 1
    assert len(json.loads(crypto.keyring().path.read_text())["data_keys"]) == kept + 1
    for original in customers:
        assert crypto.keyring().key_version(raw_column(Customer.phone, original.id)) == before + 1
        assert Customer.get_by_id(original.id).address == original.address


def test_blind_index_rotation_keeps_search_and_duplicate_check_working(admin, office, make_customer):
    rep, customers = office
    gone = anonymise(make_customer(owner=rep), None, "retention")
    placeholder = gone.phone_index
    assert placeholder.startswith("anon:")
    old_indexes = {c.id: raw_index(Customer.phone_index, c.id) for c in customers}
    old_alt = raw_index(Customer.alt_phone_index, customers[0].id)
    old_id = raw_index(Customer.id_index, customers[-1].id)
    version = crypto.keyring().index_current + 1

    refused = admin.post("/admin/keys/reindex", {"confirm": str(version + 1)})
    assert refused.status_code == 422
    assert 'data-testid="error-confirm"' in refused.get_data(as_text=True)
    assert crypto.keyring().index_current == version - 1

    assert admin.post("/admin/keys/reindex", {"confirm": str(version)}).status_code == 303
    assert crypto.keyring().index_current == version
    admin.post("/admin/keys/step", htmx=True)
    assert Setting.read(keys.PROGRESS_KEY)["rows_done"] == 2
    assert raw_index(Customer.phone_index, customers[-1].id) == old_indexes[customers[-1].id]
    # Half-way: customers on the new index and on the old one are both found.
    for customer in customers:
        assert find_known(customer.phone).customer.id == customer.id
        assert [c.id for c in search_customers(rep, customer.phone)[0]] == [customer.id]

    steps(admin)
    assert crypto.keyring().index_previous is None
    for customer in customers:
        assert raw_index(Customer.phone_index, customer.id) != old_indexes[customer.id]
        assert find_known(customer.phone).customer.id == customer.id
        assert [c.id for c in search_customers(rep, customer.phone)[0]] == [customer.id]
    assert raw_index(Customer.alt_phone_index, customers[0].id) not in (old_alt, None)
    assert find_known("137 0000 1111").customer.id == customers[0].id
    assert raw_index(Customer.id_index, customers[-1].id) not in (old_id, None)
    assert find_known(id_number=ID_NUMBER.lower()).customer.id == customers[-1].id
    assert [c.id for c in search_customers(rep, ID_NUMBER)[0]] == [customers[-1].id]
    assert raw_index(Customer.phone_index, gone.id) == placeholder
    entry = AuditLog.get(AuditLog.action == "keys_rotated")
    assert entry.change_map == {"kind": "index", "version": version}
    assert entry.actor.id == admin.user.id


def test_the_key_check_verifies_after_both_rotations_as_at_startup(admin, office, app):
    admin.post("/admin/keys/rotate", {"confirm": str(crypto.keyring().current + 1)})
    steps(admin)
    version = crypto.keyring().index_current + 1
    admin.post("/admin/keys/reindex", {"confirm": str(version)})
    steps(admin)
    path = crypto.keyring().path
    # A restart: the key file read from disk, the database's key check compared with it.
    crypto.load_keys(path)
    verify_keys()
    check_startup(str(path))
    assert crypto.keyring().index_current == version


def test_command_line_rotates_the_index_key_too(runner, office):
    _, customers = office
    version = crypto.keyring().index_current + 1
    result = runner.invoke(args=["rotate-keys", "--index-key", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert f"blind-index key version {version} is current; 5 rows re-indexed" in result.output
    for customer in customers:
        assert find_known(customer.phone).customer.id == customer.id


def test_a_duplicate_that_slipped_in_is_reported_not_stuck(admin, office):
    _, customers = office
    twin = customers[1]
    # The same phone as customers[0] under an index no key made: as a stale worker could leave it.
    Customer.update(phone=customers[0].phone, phone_index="ab" * 32).where(Customer.id == twin.id).execute()
    version = crypto.keyring().index_current + 1
    admin.post("/admin/keys/reindex", {"confirm": str(version)})
    steps(admin)
    assert raw_index(Customer.phone_index, twin.id) == "ab" * 32
    assert find_known(customers[0].phone).customer.id == customers[0].id
    entry = AuditLog.get(AuditLog.action == "keys_rotated")
    assert entry.change_map == {"kind": "index", "version": version, "not_reindexed": [twin.id]}
    page = admin.get("/admin/keys").get_data(as_text=True)
    assert 'data-testid="not-reindexed"' in page and f"#{twin.id}" in page


def test_one_rotation_at_a_time(admin, office):
    before = crypto.keyring().current
    version = crypto.keyring().index_current + 1
    admin.post("/admin/keys/reindex", {"confirm": str(version)})
    assert admin.post("/admin/keys/rotate", {"confirm": str(before + 1)}).status_code == 303
    assert crypto.keyring().current == before  # refused: the re-indexing runs
    with pytest.raises(keys.RotationBusy):
        keys.rotate_data_key(batch=2)
    steps(admin)
    assert Setting.read(keys.PROGRESS_KEY) is None


@pytest.mark.parametrize("role", ["reception", "rep", "manager", "auditor"])
@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/admin/keys"),
        ("post", "/admin/keys/rotate"),
        ("post", "/admin/keys/reindex"),
        ("post", "/admin/keys/step"),
    ],
)
def test_only_admins_rotate_keys(login_as, role, method, path):
    before = crypto.keyring().current
    session = login_as(role)
    response = session.get(path) if method == "get" else session.post(path, {"confirm": "1"})
    assert response.status_code == 403
    assert crypto.keyring().current == before
    assert Setting.read(keys.PROGRESS_KEY) is None


def test_rotating_the_data_key_asks_first(admin, office):
    before = crypto.keyring().current
    page = admin.get("/admin/keys").get_data(as_text=True)
    assert 'href="/admin/keys/rotate"' in page  # the first tap opens the question, it rotates nothing
    question = admin.get("/admin/keys/rotate")
    html = question.get_data(as_text=True)
    assert question.status_code == 200 and 'data-testid="confirm-rotate-data-key"' in html
    assert f'value="{before + 1}"' in html and 'href="/admin/keys"' in html  # 取消 goes back
    assert crypto.keyring().current == before and Setting.read(keys.PROGRESS_KEY) is None


@pytest.mark.parametrize("sent", [{}, {"confirm": "99"}])
def test_a_post_without_the_confirmation_rotates_nothing(admin, office, sent):
    before = crypto.keyring().current
    response = admin.post("/admin/keys/rotate", sent)
    assert response.status_code == 422
    assert 'data-testid="confirm-error"' in response.get_data(as_text=True)
    assert crypto.keyring().current == before and Setting.read(keys.PROGRESS_KEY) is None


def test_the_confirmation_of_a_finished_rotation_does_not_rotate_twice(admin, office):
    before = crypto.keyring().current
    confirmed = {"confirm": str(before + 1)}
    admin.post("/admin/keys/rotate", confirmed)
    steps(admin)
    assert admin.post("/admin/keys/rotate", confirmed).status_code == 422  # the same form sent again
    assert crypto.keyring().current == before + 1
