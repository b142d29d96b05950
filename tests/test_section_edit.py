"""Editing a section of the client page at once: one form for the section's fields, only the fields
that changed written (one history row, personal values never in it), the per-field rules kept."""

import pytest

from tests.conftest import raw_column
from tests.helpers import oob_timeline
from villa.models import AuditLog, Customer
from villa.profile import form_value

NEEDS = ("unit_type", "area_band", "budget", "purpose", "competing_projects")


@pytest.fixture
def login(login):
    """Logged in with the interface in English, so messages read as their msgids."""

    def _login(user):
        session = login(user)
        session.get("/lang/en")
        return session

    return _login


@pytest.fixture
def owned(team, make_customer):
    _, owner = team
    return make_customer(
        owner=owner, name="张三丰", phone="13912345678", budget="800-1000万", unit_type="独栋"
    )


def as_shown(customer, names, **changed):
    """The section's form sent back as it was shown, with `changed` typed over it."""
    return {**{name: form_value(customer, name) for name in names}, **changed}


def url(customer, section, edit=False):
    return f"/customers/{customer.id}/sections/{section}" + ("/edit" if edit else "")


def history(customer):
    return [
        row.change_map
        for row in AuditLog.select().where(
            AuditLog.customer == customer.id, AuditLog.action == "field_changed"
        )
    ]


def test_the_edit_form_holds_every_field_of_the_section(team, login, owned):
    html = login(team[1]).htmx_get(url(owned, "needs", edit=True)).get_data(as_text=True)
    assert "<html" not in html
    assert 'data-testid="section-form-needs"' in html
    for name in NEEDS:
        assert f'name="{name}"' in html
    assert 'value="独栋" selected' in html or 'selected value="独栋"' in html


def test_only_the_changed_field_is_written(team, login, owned):
    session = login(team[1])
    sent = as_shown(owned, NEEDS, budget="1500-2000万")
    response = session.post(url(owned, "needs"), sent, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="section-needs"' in html and "1500-2000万" in html and "独栋" in html
    entry = oob_timeline(html)
    assert "800-1000万 → 1500-2000万" in entry and entry.count("<li>") == 1
    assert history(owned) == [{"budget": ["800-1000万", "1500-2000万"]}]
    stored = Customer.get_by_id(owned.id)
    assert (stored.budget, stored.unit_type) == ("1500-2000万", "独栋")


def test_a_save_with_nothing_changed_writes_nothing(team, login, owned):
    before = Customer.get_by_id(owned.id).updated_at
    response = login(team[1]).post(url(owned, "needs"), as_shown(owned, NEEDS), htmx=True)
    assert response.status_code == 200
    assert history(owned) == []
    assert Customer.get_by_id(owned.id).updated_at == before


def test_two_changed_fields_make_one_history_row(team, login, owned):
    sent = as_shown(owned, NEEDS, budget="2000万+", purpose="vacation")
    assert login(team[1]).post(url(owned, "needs"), sent, htmx=True).status_code == 200
    assert history(owned) == [{"budget": ["800-1000万", "2000万+"], "purpose": ["", "vacation"]}]


CONTACT = ("name", "gender", "age_band", "address", "wechat", "id_type")


def test_contact_numbers_left_empty_stay_and_personal_values_stay_out_of_the_history(team, login, owned):
    sent = as_shown(owned, CONTACT, name="张三峰", address="湖畔路8号", phone="", alt_phone="", id_number="")
    response = login(team[1]).post(url(owned, "contact"), sent, htmx=True)
    assert response.status_code == 200
    stored = Customer.get_by_id(owned.id)
    assert (stored.name, stored.address, stored.phone) == ("张三峰", "湖畔路8号", "+8613912345678")
    assert history(owned) == [{"name": ["张三丰", "张三峰"], "address": "changed"}]
    assert "湖畔路" not in str(raw_column(Customer.address, owned.id))  # stored encrypted
    entry = oob_timeline(response.get_data(as_text=True))
    assert "湖畔路" not in entry and "changed" in entry


def test_a_sales_rep_who_does_not_own_the_customer_gets_403(team, login, owned, make_user):
    other = login(make_user("rep", manager=team[0]))
    assert other.htmx_get(url(owned, "needs", edit=True)).status_code == 403
    assert (
        other.post(url(owned, "needs"), as_shown(owned, NEEDS, budget="2000万+"), htmx=True).status_code
        == 403
    )
    assert Customer.get_by_id(owned.id).budget == "800-1000万"
    assert history(owned) == []


def test_the_auditor_and_the_desk_may_not_edit(team, login, owned, make_user):
    for role in ("auditor", "reception"):
        session = login(make_user(role))
        assert session.post(url(owned, "needs"), as_shown(owned, NEEDS, budget="2000万+")).status_code == 403
    assert history(owned) == []


def test_refused_values_come_back_at_422_with_every_message_and_what_was_typed(team, login, owned):
    sent = {"hukou_local": "no", "social_insurance_months": "abc", "homes_owned": "99"}
    response = login(team[1]).post(url(owned, "eligibility"), sent, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="section-form-eligibility"' in html
    assert 'data-testid="error-social_insurance_months"' in html and 'data-testid="error-homes_owned"' in html
    assert 'value="abc"' in html and 'value="99"' in html
    assert history(owned) == []
    assert Customer.get_by_id(owned.id).hukou_local is None  # nothing of the section written


def test_a_bad_phone_keeps_the_other_changes_unwritten(team, login, owned):
    sent = as_shown(owned, CONTACT, name="张三峰", phone="139123")
    response = login(team[1]).post(url(owned, "contact"), sent, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'data-testid="error-phone"' in html and 'value="139123"' in html and 'value="张三峰"' in html
    assert Customer.get_by_id(owned.id).name == "张三丰"


def test_financial_details_wait_for_the_separate_consent(team, login, owned):
    session = login(team[1])
    sent = {"payment_method": "商业贷款", "asset_band": "", "credit_notes": ""}
    refused = session.post(url(owned, "purchasing_power"), sent, htmx=True)
    assert refused.status_code == 422
    assert 'data-testid="consent-needed"' in refused.get_data(as_text=True)
    consent = session.post(
        f"/customers/{owned.id}/sensitive-consent", {**sent, "section": "purchasing_power"}, htmx=True
    )
    assert consent.status_code == 200
    assert 'data-testid="section-form-purchasing_power"' in consent.get_data(as_text=True)
    again = session.post(url(owned, "purchasing_power"), sent, htmx=True)
    assert again.status_code == 200, again.get_data(as_text=True)
    assert Customer.get_by_id(owned.id).payment_method == "商业贷款"
    assert history(owned) == [{"payment_method": "changed"}]


def test_without_javascript_the_form_is_a_page_and_a_save_goes_back(team, login, owned):
    session = login(team[1])
    page = session.get(url(owned, "needs", edit=True))
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    saved = session.post(url(owned, "needs"), as_shown(owned, NEEDS, budget="2000万+"))
    assert saved.status_code == 303 and saved.headers["Location"] == f"/customers/{owned.id}"
    assert session.get(url(owned, "needs")).status_code == 302


def test_the_client_page_has_one_edit_per_section_and_no_field_buttons(team, login, owned):
    html = login(team[1]).get(f"/customers/{owned.id}").get_data(as_text=True)
    sections = ("contact", "source", "needs", "questions", "eligibility", "purchasing_power", "notes")
    assert html.count('data-testid="edit-section-') == len(sections)
    assert 'data-testid="edit-budget"' not in html and "/fields/" not in html
