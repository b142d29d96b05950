"""The office day for locust: desk, reps, managers and auditors, each one action every ~10 s.

Run by bench/loadtest.py (`make loadtest`), which seeds the instance, creates the staff accounts and
writes the plan this file reads (LOADTEST_PLAN: accounts, the customers each rep owns, the password,
the steps). OfficeDay steps the number of staff up in one locust run: each step first lets its new
staff log in (not measured), then measures; a step that fails (a failed request, or an action's p95
over the limit) ends the run, unless the plan says to run every step (the smoke). The measured
requests, per step and action, go to LOADTEST_OUT as JSON when locust stops.
"""

import itertools
import json
import os
import random
import re
import time

from locust import FastHttpUser, LoadTestShape, between, events, task

from bench.percentiles import percentile  # locust runs this file with the project's folder on the path

PLAN = json.loads(open(os.environ["LOADTEST_PLAN"], encoding="utf-8").read())  # noqa: SIM115
PASSWORD = PLAN["password"]
# Searches people type: a surname, a surname and a given-name character, or a name nobody has.
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
# The review queue's rows: the decision forms post to /review/<id>/approve with the shown level.
REVIEW_ROW = re.compile(r"/review/(\d+)/approve")
LEVEL = re.compile(r'name="level"[^>]*value="(\d+)"')
THINK = between(3, 17)  # seconds between two actions: 10 on average

# The step being measured (None while staff log in) and what it measured: {staff: {action: [ms]}}.
NOW = {"step": None}
LOGGED_IN = {"n": 0}  # staff whose login has been answered (the shape waits for them before measuring)
SETTLE = 10  # seconds after the last login before a step measures
LOGIN_PATIENCE = 600  # seconds a step waits for its logins at most
LOGIN_ATTEMPTS = 5  # tries of each member of staff at logging in
MEASURED: dict = {}
FAILED: dict = {}
ERRORS: dict = {}


@events.request.add_listener
def _record(name, response_time, exception=None, **_kwargs):
    step = NOW["step"]
    if step is None or name == "login":
        return
    MEASURED.setdefault(step, {}).setdefault(name, []).append(response_time)
    if exception is not None:
        FAILED.setdefault(step, {}).setdefault(name, 0)
        FAILED[step][name] += 1
        errors = ERRORS.setdefault(step, [])
        if len(errors) < 10:
            errors.append(f"{name}: {str(exception)[:200]}")


def _ms(times: list, share: float):
    found = percentile(times, share)
    return None if found is None else round(found, 1)


def step_result(staff: int) -> dict:
    actions = {}
    for name, times in sorted(MEASURED.get(staff, {}).items()):
        actions[name] = {
            "requests": len(times),
            "failures": FAILED.get(staff, {}).get(name, 0),
            "p50_ms": _ms(times, 0.50),
            "p95_ms": _ms(times, 0.95),
            "p99_ms": _ms(times, 0.99),
        }
    slow = [n for n, a in actions.items() if a["p95_ms"] is not None and a["p95_ms"] > PLAN["p95_limit_ms"]]
    failed = [n for n, a in actions.items() if a["failures"]]
    return {"staff": staff, "actions": actions, "slow": slow, "failed": failed,
            "errors": ERRORS.get(staff, []), "passed": bool(actions) and not slow and not failed}  # fmt: skip


class OfficeDay(LoadTestShape):
    """PLAN["steps"]: each {"staff", "spawn_rate", "ramp", "seconds", "measured"}; the staff stay from
    step to step. A step measures only once every member of staff has logged in (LOGGED_IN) and
    `ramp` seconds have passed, then SETTLE more: an office logs in once in the morning, and a login
    is an argon2 hash (~0.3 s of CPU by design), so a crowd logging in is not what the step measures."""

    index, phase, since = 0, "spawn", 0.0

    def tick(self):
        run_time = self.get_run_time()
        while self.index < len(PLAN["steps"]):
            step = PLAN["steps"][self.index]
            if self.phase == "spawn":
                ready = LOGGED_IN["n"] >= step["staff"] and run_time - self.since >= step["ramp"]
                if not ready and run_time - self.since < step["ramp"] + LOGIN_PATIENCE:
                    NOW["step"] = None
                    return step["staff"], step["spawn_rate"]
                self.phase, self.since = "settle", run_time
            if self.phase == "settle":
                if run_time - self.since < SETTLE:
                    return step["staff"], step["spawn_rate"]
                self.phase, self.since = "measure", run_time
            if run_time - self.since < step["seconds"]:
                NOW["step"] = step["staff"] if step["measured"] else None
                return step["staff"], step["spawn_rate"]
            NOW["step"] = None
            if step["measured"] and not PLAN["every_step"] and not step_result(step["staff"])["passed"]:
                return None  # this step failed: no bigger one
            self.index, self.phase, self.since = self.index + 1, "spawn", run_time
        NOW["step"] = None
        return None


@events.quitting.add_listener
def _write_results(environment, **_kwargs):
    steps = [step_result(s["staff"]) for s in PLAN["steps"] if s["measured"] and s["staff"] in MEASURED]
    with open(os.environ["LOADTEST_OUT"], "w", encoding="utf-8") as out:
        json.dump({"steps": steps}, out, ensure_ascii=False)


class Staff(FastHttpUser):
    """FastHttpUser (geventhttpclient) rather than HttpUser (requests): the load generator shares the
    machine's CPUs with the server, and spends several times less of them per request this way."""

    abstract = True
    wait_time = THINK
    role = ""
    _numbers: dict = {}

    def on_start(self):
        accounts = PLAN["accounts"][self.role]
        counter = Staff._numbers.setdefault(self.role, itertools.count())
        self.account = accounts[next(counter) % len(accounts)]
        self.csrf = ""
        try:
            # A login the crowd's morning rush left unanswered is tried again, as a person would:
            # without a session every later form would be refused (400), which is not what's measured.
            for _attempt in range(LOGIN_ATTEMPTS):
                if self._log_in():
                    return
                time.sleep(random.uniform(2, 6))
        finally:
            LOGGED_IN["n"] += 1

    def _log_in(self) -> bool:
        """One try at the login form; True once signed in, with the CSRF token of the first page."""
        page = self.client.get("/login", name="login").text or ""
        form = {"csrf_token": _token(page), "username": self.account["username"], "password": PASSWORD}
        with self.client.post("/login", data=form, name="login", allow_redirects=False,
                              catch_response=True) as answer:  # fmt: skip
            if answer.status_code != 303:
                answer.failure(f"login answered {answer.status_code}")
                return False
        self.csrf = _token(self.client.get(self.first_page, name="login").text or "")
        return bool(self.csrf)

    first_page = "/"

    def get(self, path: str, name: str, **kwargs):
        return self.client.get(path, name=name, **kwargs)

    def post(self, path: str, name: str, data: dict, expect=(200, 303), htmx=False):
        headers = {"X-CSRFToken": self.csrf}
        if htmx:
            headers["HX-Request"] = "true"
        data = dict(data, csrf_token=self.csrf)
        with self.client.post(path, data=data, name=name, headers=headers, allow_redirects=False,
                              catch_response=True) as answer:  # fmt: skip
            # Marked either way: left unmarked, locust counts any 4xx as failed, even an expected
            # 409 (two managers deciding the same registration, which the office allows for).
            if answer.status_code in expect:
                answer.success()
            else:
                answer.failure(f"{answer.status_code}: {answer.text[:120]!r}")
            return answer


def _token(page: str) -> str:
    found = CSRF.search(page)
    return found.group(1) if found else ""


def _new_phone() -> str:
    # 195: a prefix bench/seed.py never draws, so a registration is new (a clash is rare and harmless).
    return f"195{random.randrange(10**8):08d}"


class Desk(Staff):
    """The front desk: a phone typed in bursts (the duplicate check per burst), a registration,
    a look at today's desk."""

    weight = 2
    role = "reception"
    first_page = "/reception/register"

    @task(5)
    def type_a_phone(self):
        phone = random.choice(PLAN["known_phones"]) if random.random() < 0.3 else _new_phone()
        for typed in (7, 9, 11):  # three pauses while typing: three checks
            self.get(f"/reception/check?phone={phone[:typed]}", "desk: duplicate check")
            time.sleep(random.uniform(0.3, 0.8))

    @task(2)
    def register(self):
        rep = random.choice(PLAN["rep_ids"])
        form = dict(PLAN["registration_form"], phone=_new_phone(), rep=str(rep))
        form["name"] = random.choice(SURNAMES) + "".join(random.sample(GIVEN, 2))
        self.post("/reception/register", "desk: register", form, expect=(303,))

    @task(3)
    def desk_page(self):
        self.get("/reception/", "desk: desk page")


class Rep(Staff):
    """A sales rep: home, the list, a search, a client page, a follow-up, a changed field."""

    weight = 14
    role = "rep"

    def customer(self) -> int:
        return random.choice(self.account["customers"])

    @task(3)
    def home(self):
        self.get("/", "rep: home")

    @task(3)
    def customer_list(self):
        self.get("/customers/", "rep: list")

    @task(3)
    def search(self):
        roll = random.random()
        if roll < 0.5:
            q = random.choice(SURNAMES)
        elif roll < 0.9:
            q = random.choice(SURNAMES) + random.choice(GIVEN)
        else:
            q = "欧阳" + random.choice(GIVEN)  # a name nobody in the seed has
        self.get("/customers/", "rep: search", params={"q": q})

    @task(4)
    def client_page(self):
        self.get(f"/customers/{self.customer()}", "rep: client page")

    @task(1)
    def log_a_followup(self):
        form = {"kind": "call", "reached": "y", "content": "电话回访，客户考虑中", "result": "",
                "next_at": "", "grade": "", "corrects": ""}  # fmt: skip
        self.post(f"/customers/{self.customer()}/followups", "rep: log a follow-up", form, htmx=True)

    @task(1)
    def edit_a_field(self):
        budget = random.choice(("<800万", "800-1000万", "1000-1500万", "1500-2000万"))
        self.post(f"/customers/{self.customer()}/fields/budget", "rep: edit a field", {"budget": budget},
                  htmx=True)  # fmt: skip


class Manager(Staff):
    """A sales manager: the review queue and its decisions, the dashboard and the ranking now and then."""

    weight = 3
    role = "manager"

    @task(4)
    def review_queue(self):
        self.get("/review/", "manager: review queue")

    @task(2)
    def decide(self):
        page = self.get("/review/", "manager: review queue").text
        rows = REVIEW_ROW.findall(page)
        if not rows:
            return
        customer = random.choice(rows)
        level = LEVEL.search(page)
        form = {"level": level.group(1) if level else ""}
        if random.random() < 0.8:
            self.post(f"/review/{customer}/approve", "manager: approve", form, expect=(200, 303, 409))
        else:
            form.update(reason="", note="信息不全，请补充")
            self.post(f"/review/{customer}/reject", "manager: reject", form, expect=(200, 303, 409))

    @task(1)
    def dashboard(self):
        self.get("/analytics/", "manager: dashboard")

    @task(1)
    def ranking(self):
        self.get("/analytics/reps?preset=90d", "manager: ranking")


class Auditor(Staff):
    """The audit team: its review queue and the logs."""

    weight = 1
    role = "auditor"

    @task(1)
    def review_queue(self):
        self.get("/review/", "auditor: review queue")

    @task(1)
    def logs(self):
        self.get("/logs/", "auditor: logs")
