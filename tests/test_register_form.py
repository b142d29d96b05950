"""The registration form's shape and its helpers: the live number messages of the duplicate check,
the error summary, 返回修改 from the conflict page, and the next steps after a registration."""

import re

import pytest

from villa.identity import id_number_problem, phone_problem
from villa.models import Customer, Visit

from .helpers import registration_form as form

PHONE_INVALID = "号码"  # 该号码无效… / 电话号码…: the office's words for a wrong number


@pytest.mark.parametrize(
    "typed,finished,told",
    [
        ("1380013", False, False),  # a mobile being typed
        ("13800138000", False, False),  # a valid mobile
        ("+86 139-1234-5678", False, False),
        ("+852 9123", False, False),  # abroad: complete at several lengths, judged on leaving
        ("+", False, False),
        ("88886666", False, False),  # a landline, maybe its area code comes next... no: on leaving
        ("12345678901", False, True),  # 11 digits starting with 1, not a mobile: nothing can mend it
        ("138001380001", False, True),  # a mobile with a digit too many
        ("138a", False, True),  # a character no phone has
        ("1380013", True, True),  # left the field incomplete
        ("88886666", True, True),
        ("13800138000", True, False),
        ("", True, False),  # empty is for the submit to say
    ],
)
def test_phone_problem_speaks_only_when_the_number_cannot_be_right(app, typed, finished, told):
    with app.test_request_context():
        assert (phone_problem(typed, finished) is not None) is told


@pytest.mark.parametrize(
    "typed,id_type,finished,told",
    [
        ("1101", "resident", False, False),
        ("11010519491231002x", "resident", False, False),
        ("110105194912310021", "resident", False, True),  # check digit
        ("99", "resident", False, True),  # no such region
        ("11A", "resident", False, True),
        ("1101051949123100212", "resident", False, True),  # 19 characters
        ("1101", "resident", True, True),
        ("E12", "passport", False, False),
        ("E12", "passport", True, True),
        ("E12345678", "passport", True, False),
        ("", "resident", True, False),
    ],
)
def test_id_number_problem_speaks_only_when_the_number_cannot_be_right(app, typed, id_type, finished, told):
    with app.test_request_context():
        assert (id_number_problem(typed, id_type, finished) is not None) is told


def test_check_tells_a_wrong_phone_next_to_the_field(login_as):
    session = login_as("reception")
    response = session.htmx_get("/reception/check?phone=12345678901")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="format-problem"' in html and PHONE_INVALID in html
    assert 'data-testid="dup-warning"' not in html and "<html" not in html


def test_check_stays_empty_for_a_valid_unknown_phone_and_a_phone_being_typed(login_as):
    session = login_as("reception")
    for query in ("phone=13700001111", "phone=137000", "phone=88886666", "id_number=1101"):
        assert session.htmx_get(f"/reception/check?{query}").get_data(as_text=True).strip() == "", query


def test_check_judges_an_incomplete_number_once_the_desk_leaves_the_field(login_as):
    session = login_as("reception")
    html = session.htmx_get("/reception/check?phone=88886666&finished=1").get_data(as_text=True)
    assert 'data-testid="format-problem"' in html and "区号" in html


def test_check_tells_a_wrong_id_check_digit(login_as):
    session = login_as("reception")
    html = session.htmx_get("/reception/check?id_number=110105194912310021&id_type=resident").get_data(
        as_text=True
    )
    assert 'data-testid="format-problem"' in html and "校验" in html
    assert 'data-testid="dup-warning"' not in html


def test_a_known_phone_still_gives_the_dup_warning(login_as, make_user, make_customer):
    make_customer(owner=make_user("rep"), phone="13912345678")
    html = (
        login_as("reception").htmx_get("/reception/check?phone=13912345678&finished=1").get_data(as_text=True)
    )
    assert 'data-testid="dup-warning"' in html and 'data-testid="format-problem"' not in html


def test_the_form_starts_with_the_phone_focused_and_more_information_folded(login_as):
    html = login_as("reception").get("/reception/register").get_data(as_text=True)
    assert html.index('id="phone"') < html.index('id="name"') < html.index('data-testid="more-info"')
    assert html.index('data-testid="more-info"') < html.index('id="id_number"')
    assert (
        html.index('id="id_number"')
        < html.index('id="consent"')
        < html.index('data-testid="register-submit"')
    )
    assert " autofocus " in re.search(r'<input[^>]*id="phone"[^>]*>', html).group(0)
    assert "接待类型" in html and "到访方式" not in html
    assert '<details class="more-info" id="more-info" data-testid="more-info" >' in html  # folded
    assert 'data-testid="error-summary"' not in html


def test_a_failed_submit_has_a_summary_linking_each_bad_field(login_as):
    response = login_as("rep").post("/reception/register", form(phone="12345", consent=None))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    summary = html[
        html.index('data-testid="error-summary"') : html.index("</ul>", html.index("error-summary"))
    ]
    assert summary.index('href="#phone"') < summary.index('href="#consent"')
    assert "autofocus" not in html  # the script focuses the first bad field instead
    assert 'data-testid="more-info" open' not in html  # nothing to fix in there
    assert 'value="王建国"' in html


def test_a_bad_field_under_more_information_opens_it(login_as):
    response = login_as("rep").post("/reception/register", form(channel="referral"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="more-info" open' in html
    assert 'href="#referrer_name"' in html


def _back_to_form_value(html: str) -> str:
    return re.search(r'name="back_to_form" value="([^"]*)"', html).group(1)


def test_the_conflict_offers_back_to_the_form_with_every_value(login_as, make_user, make_customer):
    make_customer(owner=make_user("rep"), phone="13912345678")
    session = login_as("reception")
    typed = form(rep=str(make_user("rep").id), alt_phone="13700001111", concerns=["学区", "价格"])
    conflict = session.post("/reception/register", typed)
    html = conflict.get_data(as_text=True)
    assert conflict.status_code == 409
    assert 'data-testid="back-to-form"' in html and "返回修改" in html
    # The typed values travel sealed: the page shows no full phone, no name typed, no notes.
    for clear in ("13912345678", "139 1234 5678", "13700001111", "想看湖景独栋"):
        assert clear not in html, clear

    back = session.post("/reception/register", {"back_to_form": _back_to_form_value(html)})
    page = back.get_data(as_text=True)
    assert back.status_code == 200
    assert 'data-testid="error-summary"' not in page
    for kept in ('value="139 1234 5678"', 'value="王建国"', 'value="13700001111"', "想看湖景独栋"):
        assert kept in page, kept
    for answer in ("学区", "价格"):
        assert re.search(rf'<input checked[^>]*value="{answer}"', page), answer
    assert Customer.select().count() == 1 and Visit.select().count() == 0  # nothing new saved


def test_a_sealed_form_opens_only_for_the_user_who_typed_it(login_as, make_user, make_customer):
    owner = make_user("rep")
    make_customer(owner=owner, phone="13912345678")
    refused = login_as("reception").post("/reception/register", form(rep=str(owner.id)))
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    for sealed in (_back_to_form_value(html), "00", "not hex", ""):
        response = login_as("reception").post("/reception/register", {"back_to_form": sealed})
        assert response.status_code == 200
        assert "王建国" not in response.get_data(as_text=True)  # an empty form, no error


def test_after_a_registration_the_client_page_offers_the_desks_next_steps(login_as):
    session = login_as("rep")
    response = session.post("/reception/register", form())
    assert response.status_code == 303
    customer = Customer.get()
    assert response.headers["Location"].endswith(f"/customers/{customer.id}")
    html = session.get(response.headers["Location"]).get_data(as_text=True)
    assert "王建国已登记" in html
    assert 'data-testid="register-another"' in html and "再登记一位" in html
    assert 'data-testid="back-to-desk"' in html and "返回前台" in html
    again = session.get(response.headers["Location"]).get_data(as_text=True)
    assert "再登记一位" not in again  # said once


def test_the_dispute_form_asks_for_the_reason_in_the_desks_words(login_as, make_user, make_customer):
    make_customer(owner=make_user("rep"), phone="13912345678")
    html = login_as("rep").post("/reception/register", form()).get_data(as_text=True)
    assert "申诉理由" in html and "为什么该客户应归您" not in html
