"""Test data for the live-server suites: fresh phones and ID numbers, registrations over HTTP, and the
app's URL rules (read in a subprocess, so this process never binds the app's database)."""

import itertools
import json
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta

from tests.security.live import PROJECT_ROOT, Client, Instance

# A random start per run: phones and ID numbers never repeat within a run, nor collide across
# instances, and look like the real thing (139 mobile numbers, GB 11643 resident IDs).
_serial = itertools.count(random.randrange(10_000_000, 80_000_000))
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def new_phone() -> str:
    """A fresh mobile number, digits only: 139xxxxxxxx."""
    return f"139{next(_serial):08d}"


def new_id_number() -> str:
    """A fresh, valid resident ID number (Beijing Xicheng, birth date 1950-2005, check digit)."""
    n = next(_serial)
    born = date(1950, 1, 1) + timedelta(days=n % 20_000)
    body = f"110102{born:%Y%m%d}{n % 1000:03d}"
    check = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    return body + check


def spaced(phone: str) -> str:
    return f"{phone[:3]} {phone[3:7]} {phone[7:]}"


def dashed(phone: str) -> str:
    return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"


def registration(**changes) -> dict:
    """A valid registration form; a change of None drops the field."""
    values = {
        "visit_type": "visit",
        "name": "王建国",
        "gender": "M",
        "phone": new_phone(),
        "channel": "walk_in",
        "consent": "y",
        "budget": "1000-1500万",
        "unit_type": "独栋",
        "notes": "想看湖景独栋",
    }
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return values


CUSTOMER_URL = re.compile(r"^(?:https?://[^/]+)?/customers/(\d+)$")


def register(client: Client, **changes) -> int:
    """Register a customer through the desk form; returns the new customer's id."""
    values = registration(**changes)
    response = client.post("/reception/register", values)
    assert response.status == 303, f"registration refused: {response.status} {response.text[:500]}"
    match = CUSTOMER_URL.match(response.location or "")
    assert match, f"registration redirected to {response.location!r}"
    return int(match.group(1))


# --- the app's routes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    rule: str
    endpoint: str
    methods: tuple
    arguments: tuple  # (name, converter, converter args)

    @property
    def argument_names(self) -> set:
        return {name for _, _, name in self.arguments}

    @property
    def public(self) -> bool:
        return self.endpoint in PUBLIC_ENDPOINTS

    @property
    def admin_only(self) -> bool:
        return self.rule.startswith("/admin")

    def url(self, **values) -> str:
        """The rule with its arguments filled in: given values, else a filler by argument name."""

        def fill(match):
            converter, args, name = match.group(1), match.group(2), match.group(3)
            if name in values:
                return str(values[name])
            if converter == "any":
                return args.split(",")[0].strip().strip("'\"")
            return FILLERS.get(name, "1" if converter == "int" else "x")

        return RULE_ARG.sub(fill, self.rule)


RULE_ARG = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
# Reachable without logging in, by design.
PUBLIC_ENDPOINTS = {
    "health.healthz",
    "health.ready",  # for a monitor: 200, or 503 and why (no personal data)
    "health.metrics",  # its own bearer token (VILLA_METRICS_TOKEN), else 404
    "account.login",
    "account.switch_language",
    "static",
    "corrections.public_form",
    "corrections.public_submit",
}
# Answers 503 by design while the nightly upkeep is not in order (a fresh instance: never yet).
UNAVAILABLE_BY_DESIGN = {"health.ready"}
FILLERS = {
    "filename": "css/villa.css",
    "code": "xx",  # not a language: a real one would switch the session's language
    "token": "not-a-valid-token",
    "name": "villa-20000101-000000.vbk",
    "field_name": "budget",
}


def app_routes(instance: Instance) -> list[Route]:
    """The served app's URL rules, read from create_app() in a subprocess on the same instance."""
    script = (
        "import json; from villa import create_app; app = create_app(check_keys=False); "
        "print(json.dumps([[r.rule, r.endpoint, sorted(r.methods - {'HEAD', 'OPTIONS'})] "
        "for r in app.url_map.iter_rules()]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=instance.env(), capture_output=True,
        text=True, timeout=120, check=True,
    )  # fmt: skip
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    return [
        Route(rule, endpoint, tuple(methods), tuple(RULE_ARG.findall(rule)))
        for rule, endpoint, methods in sorted(rows)
    ]
