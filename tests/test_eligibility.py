"""购房资格: the city's rule applied to what the desk recorded, boundaries included."""

import pytest

from villa.eligibility import ELIGIBLE, NOT_ELIGIBLE, RESULT_LABELS, TO_VERIFY, current_rules, evaluate
from villa.models import Setting

DEFAULTS = {"local_max_homes_owned": 1, "nonlocal_min_months": 60, "nonlocal_max_homes_owned": 0}


def texts(result):
    return " | ".join(str(reason) for reason in result.reasons)


@pytest.mark.parametrize("homes, expected", [(0, ELIGIBLE), (1, ELIGIBLE), (2, NOT_ELIGIBLE)])
def test_local_household_may_own_one_home(homes, expected):
    result = evaluate(True, None, homes, DEFAULTS)
    assert result.status == expected
    assert f"homes owned {homes}, at most 1 allowed" in texts(result)
    assert "months" not in texts(result), "a local family's months do not matter"


@pytest.mark.parametrize(
    "months, homes, expected",
    [
        (60, 0, ELIGIBLE),
        (61, 0, ELIGIBLE),
        (59, 0, NOT_ELIGIBLE),
        (60, 1, NOT_ELIGIBLE),
        (59, 1, NOT_ELIGIBLE),
    ],
)
def test_nonlocal_household_needs_60_months_and_no_home(months, homes, expected):
    assert evaluate(False, months, homes, DEFAULTS).status == expected


def test_nonlocal_reasons_name_what_failed():
    result = evaluate(False, 36, 0, DEFAULTS)
    assert result.status == NOT_ELIGIBLE
    assert texts(result) == "Non-local: 36 of 60 months of social insurance or income tax"
    result = evaluate(False, 72, 2, DEFAULTS)
    assert texts(result) == "Non-local: homes owned 2, at most 0 allowed"


def test_missing_answers_are_to_verify_and_named():
    result = evaluate(None, None, None, DEFAULTS)
    assert result.status == TO_VERIFY
    assert "Household registration" in texts(result) and "homes owned not recorded" in texts(result)

    local = evaluate(True, None, None, DEFAULTS)
    assert local.status == TO_VERIFY
    assert "homes owned not recorded" in texts(local) and "months" not in texts(local)

    no_months = evaluate(False, None, 0, DEFAULTS)
    assert no_months.status == TO_VERIFY
    assert "months of social insurance or income tax not recorded" in texts(no_months)
    assert "homes owned not recorded" not in texts(no_months)

    no_homes = evaluate(False, 60, None, DEFAULTS)
    assert no_homes.status == TO_VERIFY
    assert "Non-local: number of homes owned not recorded" in texts(no_homes)

    unknown_household = evaluate(None, 80, 0, DEFAULTS)
    assert unknown_household.status == TO_VERIFY
    assert texts(unknown_household) == "Household registration (local or not) not recorded"


def test_a_known_failure_settles_it_despite_missing_answers():
    assert evaluate(False, None, 1, DEFAULTS).status == NOT_ELIGIBLE
    assert evaluate(False, 12, None, DEFAULTS).status == NOT_ELIGIBLE
    # More homes than even a local family may own: no answer about the household could help.
    assert evaluate(None, None, 2, DEFAULTS).status == NOT_ELIGIBLE
    assert evaluate(None, None, 1, DEFAULTS).status == TO_VERIFY


def test_custom_rules_as_argument():
    strict = {"local_max_homes_owned": 0, "nonlocal_min_months": 24, "nonlocal_max_homes_owned": 1}
    assert evaluate(True, None, 1, strict).status == NOT_ELIGIBLE
    assert evaluate(True, None, 0, strict).status == ELIGIBLE
    assert evaluate(False, 24, 1, strict).status == ELIGIBLE
    assert evaluate(False, 23, 1, strict).status == NOT_ELIGIBLE
    # A partial dict keeps the defaults for the rest.
    assert evaluate(False, 30, 0, {"nonlocal_min_months": 30}).status == ELIGIBLE
    assert evaluate(True, None, 1, {"nonlocal_min_months": 30}).status == ELIGIBLE


def test_rules_come_from_the_setting(app):
    assert current_rules() == DEFAULTS, "villa init stores the defaults"
    assert evaluate(False, 36, 0).status == NOT_ELIGIBLE
    Setting.write("eligibility_rules", {"nonlocal_min_months": 36, "local_max_homes_owned": 2})
    assert current_rules() == {**DEFAULTS, "nonlocal_min_months": 36, "local_max_homes_owned": 2}
    assert evaluate(False, 36, 0).status == ELIGIBLE
    assert evaluate(True, None, 2).status == ELIGIBLE


def test_rules_default_when_the_setting_is_missing(app):
    Setting.delete().where(Setting.key == "eligibility_rules").execute()
    assert current_rules() == DEFAULTS


def test_result_carries_its_label():
    assert str(evaluate(False, 36, 0, DEFAULTS).label) == "Not eligible"
    assert {str(label) for label in RESULT_LABELS.values()} == {"Eligible", "Not eligible", "To verify"}
