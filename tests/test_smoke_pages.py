"""Each role logs in and sees its own home, in Chinese by default."""

import pytest

from villa.models import ROLES


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"
    assert response.mimetype == "text/plain"


def test_login_page_has_csrf_meta_and_chinese_labels(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<meta name="csrf-token"' in html
    assert 'lang="zh-CN"' in html
    assert "登录" in html


@pytest.mark.parametrize("role", ROLES)
def test_each_role_lands_on_its_home(login_as, role):
    session = login_as(role)
    response = session.get("/", follow_redirects=True)  # a broker's home is their 报备 list
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    # The receptionist's home is the desk.
    assert ('data-testid="desk-heading"' if role == "reception" else f'data-testid="home-{role}"') in html
    assert session.user.display_name in html


def test_english_switch(login_as):
    session = login_as("rep")
    session.get("/lang/en?next=/")
    html = session.get("/").get_data(as_text=True)
    assert 'lang="en"' in html
    assert "Log out" in html
