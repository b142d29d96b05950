"""购房资格: may this family buy here, by the city's rule, from what the desk recorded.

Local households (本地户籍) may buy while they own at most a set number of homes; non-local
households also need enough months of local social insurance or income tax. The numbers are
an admin setting, because cities change them.
"""

from dataclasses import dataclass, field

from villa.i18n import lazy_gettext as _l
from villa.instance import DEFAULT_SETTINGS
from villa.models import Setting

ELIGIBLE, NOT_ELIGIBLE, TO_VERIFY = "eligible", "not_eligible", "to_verify"
RESULT_LABELS = {
    ELIGIBLE: _l("Eligible"),
    NOT_ELIGIBLE: _l("Not eligible"),
    TO_VERIFY: _l("To verify"),
}
DEFAULT_RULES = DEFAULT_SETTINGS["eligibility_rules"]


@dataclass
class EligibilityResult:
    status: str
    reasons: list = field(default_factory=list)

    @property
    def label(self):
        return RESULT_LABELS[self.status]


def current_rules() -> dict:
    """The office's rules: the stored setting over the defaults."""
    return _complete(Setting.read("eligibility_rules", None))


def _complete(rules: dict | None) -> dict:
    merged = dict(DEFAULT_RULES)
    for key, value in (rules or {}).items():
        if key in merged and value is not None:
            merged[key] = int(value)
    return merged


def evaluate(
    hukou_local: bool | None,
    social_insurance_months: int | None,
    homes_owned: int | None,
    rules: dict | None = None,
) -> EligibilityResult:
    """Judge the answers against the rules; an unanswered question that matters means to verify."""
    rules = _complete(rules) if rules is not None else current_rules()
    if hukou_local is None:
        return _unknown_household(homes_owned, rules)
    if hukou_local:
        return _local(homes_owned, rules["local_max_homes_owned"])
    return _nonlocal(social_insurance_months, homes_owned, rules)


def _local(homes_owned, allowed) -> EligibilityResult:
    if homes_owned is None:
        return EligibilityResult(TO_VERIFY, [_l("Local household: number of homes owned not recorded")])
    reason = _l(
        "Local household: homes owned %(owned)d, at most %(allowed)d allowed",
        owned=homes_owned,
        allowed=allowed,
    )
    return EligibilityResult(ELIGIBLE if homes_owned <= allowed else NOT_ELIGIBLE, [reason])


def _nonlocal(months, homes_owned, rules) -> EligibilityResult:
    required, allowed = rules["nonlocal_min_months"], rules["nonlocal_max_homes_owned"]
    met, failed, missing = [], [], []
    if months is None:
        missing.append(_l("Non-local: months of social insurance or income tax not recorded"))
    else:
        reason = _l(
            "Non-local: %(months)d of %(required)d months of social insurance or income tax",
            months=months,
            required=required,
        )
        (met if months >= required else failed).append(reason)
    if homes_owned is None:
        missing.append(_l("Non-local: number of homes owned not recorded"))
    else:
        reason = _l(
            "Non-local: homes owned %(owned)d, at most %(allowed)d allowed",
            owned=homes_owned,
            allowed=allowed,
        )
        (met if homes_owned <= allowed else failed).append(reason)
    # One failed condition settles it, whatever the missing answers would be.
    if failed:
        return EligibilityResult(NOT_ELIGIBLE, failed + missing)
    if missing:
        return EligibilityResult(TO_VERIFY, missing + met)
    return EligibilityResult(ELIGIBLE, met)


def _unknown_household(homes_owned, rules) -> EligibilityResult:
    missing = _l("Household registration (local or not) not recorded")
    most_allowed = max(rules["local_max_homes_owned"], rules["nonlocal_max_homes_owned"])
    if homes_owned is None:
        return EligibilityResult(TO_VERIFY, [missing, _l("Number of homes owned not recorded")])
    if homes_owned > most_allowed:
        reason = _l(
            "Homes owned %(owned)d: more than any household may own before buying (at most %(allowed)d)",
            owned=homes_owned,
            allowed=most_allowed,
        )
        return EligibilityResult(NOT_ELIGIBLE, [reason])
    return EligibilityResult(TO_VERIFY, [missing])
