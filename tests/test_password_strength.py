"""The password policy's strength rule (villa.passwords through villa.auth.password_problem): zxcvbn's
score with the user's names and the office's words as known, and its advice in the user's language."""

import pytest

from villa.auth import password_problem
from villa.demo import DEMO_PASSWORD, DEMO_USERS
from villa.i18n import force_locale

from .conftest import PASSWORD


@pytest.fixture
def request_context(app):
    with app.test_request_context("/"):
        yield


def test_the_shared_test_and_demo_passwords_pass(request_context):
    from tests.security.live import PASSWORD as LIVE_PASSWORD

    for username, name, _, _ in DEMO_USERS:
        assert password_problem(None, username, DEMO_PASSWORD, display_name=name) is None, username
    assert password_problem(None, "lina", PASSWORD, display_name="李娜") is None
    assert password_problem(None, "repa", LIVE_PASSWORD) is None


@pytest.mark.parametrize(
    "password, advice",
    [
        ("aaaaaaaaaaaa", "重复"),
        ("abcdefghijklmn", "顺序"),
        ("qwertyuiopasdf", "常用密码"),
        ("password1234", "常见的密码"),
        ("xiaoshou2026", "售楼处常用词"),
        ("shoulouchu2026", "售楼处常用词"),
        ("Bieshu123456", "售楼处常用词"),
        ("liuyangliuyang", "重复"),
    ],
)
def test_guessable_passwords_are_refused_with_advice(request_context, password, advice):
    with force_locale("zh_Hans"):
        problem = str(password_problem(None, "liuyang", password, display_name="刘洋"))
    assert problem.startswith("这个密码太容易被猜到"), problem
    assert advice in problem, problem


def test_the_users_own_names_are_known_words(request_context, make_user):
    user = make_user("rep", username="chenjing", display_name="陈静")
    with force_locale("zh_Hans"):
        assert "用户名" in str(password_problem(user, user.username, "chenjing-2026"))
    assert password_problem(None, "someoneelse", "chenjing-2026") is None


def test_long_passwords_are_judged_by_their_first_72_characters(request_context):
    assert password_problem(None, "lina", "lantern orchid quietly " * 10) is None
    assert password_problem(None, "lina", "a" * 200) is not None


def test_advice_in_english_for_english_users(request_context):
    with force_locale("en"):
        problem = str(password_problem(None, "lina", "aaaaaaaaaaaa"))
    assert problem.startswith("This password is too easy to guess: Repeats like"), problem
