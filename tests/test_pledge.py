"""The confidentiality pledge: asked at the first login, again for a new version and once a year;
acceptances recorded (who, version, when, address) and listed for the audit team."""

from datetime import timedelta

import pytest

from villa.models import AuditLog, PledgeAcceptance, PledgeText, now
from villa.pledge import publish

RULES = "客户信息仅用于置业服务，不得外传。"


@pytest.fixture
def rules(make_user):
    return publish(RULES, make_user("admin"))


def accept(session, version, **extra):
    return session.post("/pledge", {"version": str(version), "agree": "y", **extra})


def test_without_published_rules_nothing_is_asked(login_as):
    session = login_as("rep")
    assert session.get("/").status_code == 200
    assert session.get("/pledge").status_code == 404


def test_the_first_login_asks_for_the_pledge_before_anything_else(rules, make_user, login):
    rep = make_user("rep")
    session = login(rep)
    home = session.get("/")
    assert home.status_code == 302 and home.headers["Location"].startswith("/pledge")
    assert session.get("/customers/").headers["Location"] == "/pledge?next=/customers/?"
    htmx = session.htmx_get("/customers/")
    assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/pledge")
    page = session.get("/pledge").get_data(as_text=True)
    assert RULES in page and 'data-testid="pledge-due"' in page
    assert session.get("/lang/en?next=/pledge").status_code == 302, "the language can still change"


def test_accepting_is_recorded_and_lets_the_user_in(rules, make_user, login):
    rep = make_user("rep")
    session = login(rep)
    refused = session.post("/pledge", {"version": str(rules.id)})
    assert refused.status_code == 422 and 'data-testid="error-agree"' in refused.get_data(as_text=True)
    assert PledgeAcceptance.select().count() == 0
    done = accept(session, rules.id)
    assert done.status_code == 303 and done.headers["Location"] == "/"
    (row,) = PledgeAcceptance.select()
    assert (row.user_id, row.pledge_id, row.ip) == (rep.id, rules.id, "127.0.0.1")
    assert now() - row.accepted_at < timedelta(minutes=1)
    assert AuditLog.get(AuditLog.action == "pledge_accepted").actor_id == rep.id
    assert session.get("/").status_code == 200
    page = session.get("/pledge").get_data(as_text=True)
    assert 'data-testid="pledge-accepted"' in page and 'data-testid="accept-pledge"' not in page


def test_acceptance_goes_back_to_the_page_asked_for(rules, make_user, login):
    session = login(make_user("rep"))
    response = session.post("/pledge?next=/customers/", {"version": str(rules.id), "agree": "y"})
    assert response.headers["Location"] == "/customers/"
    evil = session.post("/pledge?next=//evil.example", {"version": str(rules.id), "agree": "y"})
    assert evil.headers["Location"] == "/"


def test_a_new_version_asks_again(rules, make_user, login):
    rep = make_user("rep")
    session = login(rep)
    accept(session, rules.id)
    assert session.get("/").status_code == 200
    newer = publish(RULES + "\n离职后仍须保密。", make_user("admin"))
    assert session.get("/").headers["Location"].startswith("/pledge")
    assert accept(session, rules.id).status_code == 303, "an old version cannot be accepted any more"
    assert PledgeAcceptance.select().where(PledgeAcceptance.pledge == newer).count() == 0
    assert session.get("/").status_code == 302
    accept(session, newer.id)
    assert session.get("/").status_code == 200


def test_a_year_later_it_is_asked_again(rules, make_user, login):
    rep = make_user("rep")
    session = login(rep)
    accept(session, rules.id)
    PledgeAcceptance.update(accepted_at=now() - timedelta(days=364)).execute()
    assert session.get("/").status_code == 200
    PledgeAcceptance.update(accepted_at=now() - timedelta(days=366)).execute()
    assert session.get("/").headers["Location"].startswith("/pledge")


def test_the_forced_password_change_comes_first(rules, make_user, login):
    session = login(make_user("rep", must_change_password=True))
    assert session.get("/").headers["Location"] == "/account/password"
    assert session.get("/pledge").headers["Location"] == "/account/password"


def test_logging_out_stays_open(rules, make_user, login):
    session = login(make_user("rep"))
    assert session.post("/logout").headers["Location"] == "/login"


def test_the_audit_team_sees_who_accepted_which_version(rules, make_user, login):
    rep, late = make_user("rep", username="repdone"), make_user("rep", username="replate")
    accept(login(rep), rules.id)
    auditor = login(make_user("auditor", username="watcher"))
    accept(auditor, rules.id)
    page = auditor.get("/pledge/acceptances").get_data(as_text=True)
    row = PledgeAcceptance.get(PledgeAcceptance.user == rep)
    assert f'data-testid="acceptance-{row.id}"' in page and "repdone" in page and "127.0.0.1" in page
    assert 'data-testid="standing-replate" data-due="yes"' in page
    assert 'data-testid="standing-repdone" data-due="no"' in page
    assert late.username in page
    assert login(make_user("rep")).get("/pledge/acceptances").status_code in (302, 403)


@pytest.mark.parametrize("role", ["reception", "rep", "manager"])
def test_only_the_audit_team_and_the_admin_read_the_list(make_user, login, role):
    assert login(make_user(role)).get("/pledge/acceptances").status_code == 403


def test_the_admin_publishes_a_new_version_from_the_page(login_as):
    admin = login_as("admin")
    page = admin.get("/admin/pledge").get_data(as_text=True)
    assert 'data-testid="pledge-missing"' in page and "保密" in page, "a text to start from"
    assert admin.post("/admin/pledge", {"text": "  "}).status_code == 422
    assert admin.post("/admin/pledge", {"text": RULES}).status_code == 303
    (first,) = PledgeText.select()
    assert first.text == RULES and first.created_by_id == admin.user.id
    assert admin.get("/").headers["Location"].startswith("/pledge"), "the admin accepts it too"
    accept(admin, first.id)
    same = admin.post("/admin/pledge", {"text": RULES})
    assert same.status_code == 422 and 'data-testid="error-text"' in same.get_data(as_text=True)
    assert admin.post("/admin/pledge", {"text": RULES + "二"}).status_code == 303
    assert PledgeText.select().count() == 2
    assert [e.action for e in AuditLog.select().where(AuditLog.action == "pledge_published")] == [
        "pledge_published"
    ] * 2


def test_the_admin_page_warns_when_no_rules_are_published(login_as):
    admin = login_as("admin")
    assert 'data-testid="pledge-missing"' in admin.get("/admin/").get_data(as_text=True)
