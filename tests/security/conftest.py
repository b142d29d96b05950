"""The security suite: black-box tests against a real `villa serve` (gunicorn) on a temporary instance.

One server is shared by the whole suite (`server`); tests that need other settings (lockout limits,
HTTPS cookies, the idle timeout) start their own. Staff sessions are logged in once and shared, so
a test that ends sessions (logout, password change) uses a user of its own.
"""

import re

import pytest

from tests.security.factory import app_routes, register
from tests.security.live import Instance

ROLES = ("reception", "rep", "manager", "auditor", "admin")
# username -> (role, manager). Rep A belongs to manager A, rep B to manager B.
STAFF = {
    "mgra": ("manager", None),
    "mgrb": ("manager", None),
    "desk": ("reception", None),
    "repa": ("rep", "mgra"),
    "repb": ("rep", "mgrb"),
    "audit": ("auditor", None),
    "admin": ("admin", None),
}
# Users whose sessions a test ends on purpose: nobody else shares them.
DISPOSABLE = {f"solo{n}": ("rep", "mgra") for n in range(8)}
DISPOSABLE.update({"solomgr": ("manager", None), "soloadmin": ("admin", None)})
# The shared user of each role.
BY_ROLE = {"reception": "desk", "rep": "repa", "manager": "mgra", "auditor": "audit", "admin": "admin"}


def pytest_configure(config):
    config.addinivalue_line("markers", "security: black-box tests against a live `villa serve`")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/security/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.security)


# Servers with other settings, each for the tests that need them: name -> (environment, users).
AUX_SERVERS = {
    # Five wrong passwords lock an account: counted here, they never lock the shared server's users.
    "lockout": (
        {},
        {"victim": ("rep", None), "bystander": ("rep", None), "other": ("rep", None), "known": ("rep", None)},
    ),
    # A low per-address limit, reached on purpose: it refuses every login from 127.0.0.1 after.
    "throttle": ({"VILLA_IP_FAILURES": "6"}, {"innocent": ("rep", None)}),
    # Behind the HTTPS proxy: the cookie must be Secure (and so never comes back over plain HTTP).
    "https": ({"VILLA_HTTPS": "1"}, {"secure": ("rep", None)}),
    # A zero idle limit: any pause between two requests is past it (see test_sessions).
    "idle": ({"VILLA_IDLE_MINUTES": "0"}, {"sleepy": ("rep", None)}),
    # Behind one trusted reverse proxy: X-Forwarded-For names the client; low limits to reach.
    "proxy": (
        {"VILLA_TRUSTED_PROXIES": "1", "VILLA_IP_FAILURES": "6", "VILLA_ACCOUNT_FAILURES": "8"},
        {"walker": ("rep", None), "target": ("rep", None), "target2": ("rep", None)},
    ),
    # The lookup oracle (test_oracle): users who run into the lookup limits on purpose.
    "oracle": (
        {},
        {
            "boss": ("manager", None),
            "boss2": ("manager", None),
            "owner": ("rep", "boss"),
            "mate": ("rep", "boss"),
            "snoop": ("rep", "boss2"),
            "snoopdesk": ("reception", None),
            "watch": ("auditor", None),
        },
    ),
}


class Servers:
    """Every server of the suite, set up and started side by side in the background at the first
    use (they mostly wait on imports and gunicorn's boot); get() waits for the one asked for."""

    def __init__(self, folder):
        from concurrent.futures import ThreadPoolExecutor

        specs = {"main": ({}, {**STAFF, **DISPOSABLE}, 2)}
        specs.update({name: (env, users, 1) for name, (env, users) in AUX_SERVERS.items()})
        self.instances = {
            name: Instance(folder / name, env_extra=env, workers=workers)
            for name, (env, _, workers) in specs.items()
        }
        self.pool = ThreadPoolExecutor(max_workers=len(specs))
        self.futures = {}
        for name, (_, users, _) in specs.items():
            # The main server first, alone; the others then start while the first tests run.
            after = self.futures.get("main")
            self.futures[name] = self.pool.submit(self._bring_up, self.instances[name], users, after)

    @staticmethod
    def _bring_up(instance, users, after=None):
        if after is not None:
            after.exception()
        instance.seed(users)
        instance.spawn()
        return instance.wait_ready()

    def get(self, name) -> Instance:
        return self.futures[name].result()

    def close(self):
        for future in self.futures.values():
            future.exception()  # wait: a server still starting is stopped too
        self.pool.shutdown()
        for instance in self.instances.values():
            instance.close()


@pytest.fixture(scope="package")
def servers(tmp_path_factory):
    all_servers = Servers(tmp_path_factory.mktemp("security"))
    try:
        yield all_servers
    finally:
        all_servers.close()


@pytest.fixture(scope="package")
def server(servers):
    """The shared live server: `villa init`, the staff above, `villa serve` with 2 workers."""
    return servers.get("main")


class Staff:
    """Logged-in clients by username, each logged in once and shared."""

    def __init__(self, server: Instance):
        self.server = server
        self.clients = {}

    def __getitem__(self, username):
        if username not in self.clients:
            self.clients[username] = self.server.login(username)
        return self.clients[username]

    def role(self, role):
        return self[BY_ROLE[role]]


@pytest.fixture(scope="package")
def staff(server):
    return Staff(server)


@pytest.fixture(scope="package")
def routes(server):
    return app_routes(server)


@pytest.fixture(scope="package")
def customer_a(staff):
    """Rep A's customer with a phone, an ID number and an address, and one follow-up by rep A."""
    from tests.security.factory import new_id_number, new_phone

    phone, id_number = new_phone(), new_id_number()
    rep_a = staff["repa"]
    customer_id = register(
        rep_a,
        name="张三丰",
        phone=phone,
        id_number=id_number,
        sensitive_consent="y",
        address="杭州市西湖区龙井路18号",
    )
    added = rep_a.post(
        f"/customers/{customer_id}/followups", {"kind": "call", "content": "电话沟通，约周六看房"}
    )
    assert added.status == 303, added.text[:300]
    page = rep_a.get(f"/customers/{customer_id}").text
    followups = re.findall(rf"/customers/{customer_id}/followups/(\d+)/correct", page)
    assert followups, "the client page offers no follow-up correction link"
    return {"id": customer_id, "phone": phone, "id_number": id_number, "followup_id": int(followups[0])}
