"""villa's office-day load test: how many staff one server serves with every action's p95 ≤ 150 ms.

    .venv/bin/python bench/loadtest.py [--customers N] [--steps 25,50,100] [--step-seconds S]
                                       [--smoke] [--keep]

(`make loadtest` runs it with LOADTEST_CUSTOMERS, LOADTEST_STEPS, LOADTEST_STEP_SECONDS;
LOADTEST_DATABASE_URL=postgresql://… runs it on PostgreSQL, in a schema of its own that is dropped
afterwards; LOADTEST_SMOKE=1 is CI's short check of the harness.) It seeds a private instance as
`make bench` does (bench/run.py: init, demo logins, bench/seed.py, `villa serve` with gunicorn),
creates one account per simulated member of staff (desk, reps, managers, auditors; the customers
are shared out among the reps), then runs locust headless (bench/locustfile.py) once per step of
staff. A step passes when no action failed and every action's p95 is ≤ 150 ms; the steps stop at the
first that does not. The capacity is the largest passing step, with p50/p95/p99 of each action
there. Results go to bench/results/ with the commit and the machine. See bench/README.md.

Exit status: 0 when the harness worked, whatever the capacity; 1 when it did not.
"""

import argparse
import json
import math
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench import run as bench  # noqa: E402 - the bench's seeding, server and machine facts

P95_LIMIT_MS = 150
# Of every 20 staff: 2 at the desk, 14 reps, 3 managers, 1 auditor (bench/locustfile.py's weights).
SHARES = {"reception": 2 / 20, "rep": 14 / 20, "manager": 3 / 20, "auditor": 1 / 20}
REPS_PER_MANAGER = 5
CUSTOMERS_PER_REP_SAMPLE = 40  # the client pages a simulated rep opens, from the customers it owns
REP_BOOK = 500  # customers each simulated rep owns at most: a villa rep's book (the office protects 200)
WARM_UP_SECONDS = 20
LOGIN_RATE = 5  # staff who log in per second, at most, while a step ramps up
SMOKE = {"customers": 2000, "steps": [5, 10], "step_seconds": 15}


def main(argv=None) -> int:
    args = _arguments(argv)
    if args.setup_staff:
        return _setup_staff(args.setup_staff, Path(args.plan))
    work = Path(tempfile.mkdtemp(prefix=f"villa-loadtest-{args.customers}-"))
    env = bench._environment(work)
    database = "sqlite"
    schema = None
    if args.instance:
        # A kept, seeded instance (e.g. 10M customers on PostgreSQL: seeding takes hours): used as
        # it is, its database named by --database-url as given; nothing is created or dropped.
        env["VILLA_INSTANCE"] = str(args.instance)
        if args.database_url:
            database = "postgresql"
            env["VILLA_DATABASE_URL"] = args.database_url
    elif args.database_url:
        database = "postgresql"
        schema = f"villa_loadtest_{os.getpid()}_{secrets.token_hex(3)}"
        env["VILLA_DATABASE_URL"] = bench.in_schema(args.database_url, schema)
    villa = bench._villa_command()
    report = {
        "kind": "loadtest",
        "database": database,
        "customers": args.customers,
        "smoke": args.smoke,
        "started_at": datetime.now().isoformat(timespec="seconds"),
        "machine": _machine(),
        "p95_limit_ms": P95_LIMIT_MS,
        "step_seconds": args.step_seconds,
        "steps": [],
        "capacity": None,
        "notes": [],
        "failures": [],
    }
    server = None
    try:
        if schema:
            bench.create_schema(args.database_url, schema)
        bench._log(f"instance {env['VILLA_INSTANCE']} ({database})")
        if args.instance:
            report["seed"] = {"reused": str(args.instance)}
        else:
            bench._run(villa + ["init"], env)
            bench._run(villa + ["demo", "--customers", "0"], env)
            seeded = bench._seed(args, env, work, env.get("VILLA_DATABASE_URL"))
            seeded.pop("samples")
            report["seed"] = seeded
        plan = work / "plan.json"
        bench._log(f"creating {max(args.steps)} staff accounts")
        bench._run([sys.executable, str(Path(__file__)), "--setup-staff", str(max(args.steps)),
                    "--plan", str(plan)], env)  # fmt: skip
        server = bench.Server(villa, env, work, workers=args.workers)
        report["workers"] = args.workers
        server.start()
        _warm_up(server, json.loads(plan.read_text()))
        steps = _plan_steps(args)
        plan_data = json.loads(plan.read_text())
        plan_data.update(steps=steps, every_step=args.smoke, p95_limit_ms=P95_LIMIT_MS)
        plan.write_text(json.dumps(plan_data, ensure_ascii=False))
        report["steps"] = _office_day(steps, server, plan, work)
        for step in report["steps"]:
            bench._log(_step_line(step))
        for step in report["steps"]:  # the capacity: the passing steps up to the first that fails
            if not step["passed"]:
                break
            report["capacity"] = step["staff"]
        if args.smoke and any(step["failed"] for step in report["steps"]):
            report["failures"].append("requests failed in the smoke: see the errors above")
        if len(report["steps"]) < len(args.steps) and (not report["steps"] or report["steps"][-1]["passed"]):
            report["failures"].append("locust stopped before the last step: see its output")
        report["server_log_errors"] = server.log_errors()
        report["memory"] = server.worker_memory()
    except bench.HarnessError as exc:
        report["failures"].append(str(exc))
        bench._log(f"FAILED: {exc}")
    except Exception as exc:  # noqa: BLE001 - still write what was measured, and clean up
        report["failures"].append(f"{exc.__class__.__name__}: {exc}")
        bench._log(f"FAILED: {exc.__class__.__name__}: {exc}")
    finally:
        if server is not None:
            server.stop()
        if schema and not args.keep:
            bench.drop_schema(args.database_url, schema)
    text = _table(report)
    print(text)
    _save(report, text)
    if args.keep:
        bench._log(f"kept {work}" + (f" and schema {schema}" if schema else ""))
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if report["failures"] else 0


def _arguments(argv):
    env = bench.env_setting
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=int(env("LOADTEST_CUSTOMERS", "20000")))
    parser.add_argument("--steps", default=env("LOADTEST_STEPS", "25,50,100,200,300,400"),
                        help="numbers of staff, comma-separated, smallest first")  # fmt: skip
    parser.add_argument("--step-seconds", type=int, default=int(env("LOADTEST_STEP_SECONDS", "60")),
                        help="seconds measured per step, once all the staff have logged in")  # fmt: skip
    parser.add_argument("--database-url", default=env("LOADTEST_DATABASE_URL", ""))
    parser.add_argument("--smoke", action="store_true", default=env("LOADTEST_SMOKE", "") == "1")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder (and PG schema)")
    parser.add_argument("--instance", type=Path, default=env("LOADTEST_INSTANCE") or None,
                        help="use this kept, seeded instance folder as it is (with --database-url: its "
                             "database, as given); staff accounts of an earlier run are reused")  # fmt: skip
    parser.add_argument("--workers", type=int, default=int(env("LOADTEST_WORKERS", "2")),
                        help="gunicorn sync workers (villa serve's WEB_CONCURRENCY)")  # fmt: skip
    parser.add_argument("--setup-staff", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.steps = sorted({int(s) for s in str(args.steps).split(",") if s.strip()})
    if args.smoke:
        args.customers, args.steps, args.step_seconds = (
            SMOKE["customers"], SMOKE["steps"], SMOKE["step_seconds"])  # fmt: skip
    if not args.steps or min(args.steps) < 1:
        parser.error("--steps needs at least one positive number of staff")
    return args


def _machine() -> dict:
    machine = bench._machine()
    machine.pop("wrk", None)
    machine["locust"] = bench._first_line([str(Path(sys.executable).parent / "locust"), "--version"])
    return machine


# ---------------------------------------------------------------------------------------------
# The staff: run inside the instance (`--setup-staff N`), writes the plan locust reads


def _setup_staff(staff: int, plan_path: Path) -> int:
    from peewee import fn

    from villa import create_app, pledge
    from villa.auth import hash_password
    from villa.db import db, write_transaction
    from villa.models import Customer, User

    counts = {role: max(1, math.ceil(staff * share)) + 1 for role, share in SHARES.items()}
    counts["manager"] = max(counts["manager"], math.ceil(counts["rep"] / REPS_PER_MANAGER))
    app = create_app()
    with app.app_context(), db.connection_context():
        password_hash = hash_password(bench.PASSWORD)  # argon2 is slow by design: one hash for all
        admin = User.get(User.username == "admin")
        rules = pledge.current_pledge() or pledge.publish(pledge.STARTING_TEXT, admin)
        accounts: dict[str, list] = {}
        made_reps = False
        with write_transaction():
            for role in ("manager", "reception", "rep", "auditor"):
                accounts[role] = []
                for n in range(counts[role]):
                    username = f"lt_{role}{n}"
                    user = User.get_or_none(User.username == username)  # made by an earlier run
                    if user is None:
                        managers = accounts["manager"]
                        manager = None
                        if role == "rep":
                            manager = managers[n // REPS_PER_MANAGER % len(managers)]["id"]
                        user = User.create(
                            username=username, display_name=f"压测{role}{n}", role=role, manager=manager,
                            password_hash=password_hash, must_change_password=False,
                        )  # fmt: skip
                        made_reps = made_reps or role == "rep"
                    accounts[role].append({"username": user.username, "id": user.id})
            reps = [a["id"] for a in accounts["rep"]]
            if made_reps:
                _share_customers(db, reps)
        for role_accounts in accounts.values():
            for account in role_accounts:
                pledge.accept(User.get_by_id(account["id"]), rules.id, "127.0.0.1")
        for account in accounts["rep"]:
            rows = (
                Customer.select(Customer.id)
                .where(Customer.owner == account["id"], Customer.anonymised_at.is_null())
                .order_by(fn.Random())
                .limit(CUSTOMERS_PER_REP_SAMPLE)
            )
            account["customers"] = [c.id for c in rows]
        accounts["rep"] = [a for a in accounts["rep"] if a["customers"]]
        # Random ids rather than ORDER BY random(), which sorts every customer (minutes at 10M).
        top = Customer.select(fn.MAX(Customer.id)).scalar() or 0
        picked = random.Random(2026).sample(range(1, top + 1), min(top, 600))
        known = Customer.select().where(Customer.id.in_(picked), Customer.anonymised_at.is_null()).limit(300)
        phones = [c.phone[-11:] for c in known if c.phone]
        _settle(db)
    form = bench._registration_form(type("Desk", (), {"csrf": "", "rep_id": ""})(), None)
    for key in ("csrf_token", "rep", "name"):
        form.pop(key, None)
    plan = {
        "password": bench.PASSWORD,
        "accounts": accounts,
        "rep_ids": reps,
        "known_phones": phones,
        "registration_form": form,
    }
    plan_path.write_text(json.dumps(plan, ensure_ascii=False))
    return 0


def _settle(db):
    """Before anything is measured, what a night's `villa daily` would leave: the planner's
    statistics taken again (a thousand new accounts since the seed's: SQLite, planning with the
    seed's dozen users, read the desk's list of today's visits through every customer the desk
    registered), and what the setup wrote put out of the way. Sharing the customers out rewrites
    hundreds of thousands of rows; left to the server, the first requests measured would pay for it
    (a SQLite request that commits copies the whole WAL into the database file; PostgreSQL's
    checkpoint writes the dirty pages while the steps run)."""
    from villa.daily import refresh_statistics
    from villa.db import is_sqlite

    refresh_statistics()
    if is_sqlite():
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        try:
            db.execute_sql("CHECKPOINT")
        except Exception as exc:  # CHECKPOINT needs a superuser or pg_checkpoint: then the server's own
            print(f"loadtest: no CHECKPOINT before the steps ({type(exc).__name__})", file=sys.stderr)
    os.sync()


def _share_customers(db, reps: list[int]):
    """The seed's first owned customers go round the reps, REP_BOOK each, as in an office: one UPDATE
    (customer id mod the number of reps picks the rep). The rest keep the demo reps of the seed: at
    10M customers a rep with 14,000 customers is no office's, and rewriting every customer's owner
    had not finished after 7 minutes at 1M."""
    from bench.seed import _trigger_fills
    from villa.db import is_sqlite
    from villa.models import Customer

    pairs, n = ", ".join(f"({k}, {rep})" for k, rep in enumerate(reps)), len(reps)
    owned = Customer.select(Customer.id).where(Customer.owner.is_null(False)).order_by(Customer.id)
    last = owned.offset(n * REP_BOOK - 1).limit(1).scalar()
    share = (
        f"WITH share (k, rep) AS (VALUES {pairs}) UPDATE customer SET owner_id = share.rep FROM share "
        # id mod n as integer division (% is a placeholder's sign to psycopg): the same on both databases
        f"WHERE customer.owner_id IS NOT NULL AND customer.id - customer.id / {n} * {n} = share.k"
        + (f" AND customer.id <= {int(last)}" if last else "")
    )
    if is_sqlite():  # its triggers keep the summaries as the rows change
        db.execute_sql(share)
        return
    # PostgreSQL: plpgsql triggers row by row took over 10 minutes at 1M. As the seed does: the
    # triggers off for the UPDATE, then the tables they keep counted again from the rows; only the
    # daily summaries (migration 0021) count owners, so the name grams are not written again.
    connection = db.connection()
    connection.execute("SET session_replication_role = replica")
    try:
        connection.execute(share)
    finally:
        connection.execute("SET session_replication_role = DEFAULT")
    for fill in _trigger_fills(only="0021"):
        fill(connection)


# ---------------------------------------------------------------------------------------------
# One step: locust headless, stats after every member of staff has logged in


WARM_PAGES = {
    "reception": ["/reception/", "/reception/register", "/reception/check?phone=1391234"],
    "rep": ["/", "/customers/", "/customers/?q=%E7%8E%8B", "/customers/{customer}"],
    "manager": ["/review/", "/analytics/", "/analytics/reps?preset=90d"],
    "auditor": ["/review/", "/logs/"],
}


def _warm_up(server, plan: dict):
    """Each page a few times first, so that both workers have compiled its templates: not measured."""
    for role, pages in WARM_PAGES.items():
        account = plan["accounts"][role][-1]
        client = bench.Client(server.base)
        token = bench._csrf_token(client.request("GET", "/login")[2])
        form = {"csrf_token": token, "username": account["username"], "password": plan["password"]}
        status, _, _ = client.request("POST", "/login", form)
        if status != 303:
            raise bench.HarnessError(f"logging in as {account['username']} answered {status}, not 303")
        for page in pages * 4:
            client.request("GET", page.format(customer=(account.get("customers") or [1])[0]))


def _plan_steps(args) -> list[dict]:
    """The steps OfficeDay (bench/locustfile.py) walks: a warm-up, then each number of staff.

    Each step first lets its new staff log in, unmeasured: spawned over about 15 s, and no faster
    than LOGIN_RATE a second (a login is an argon2 hash, ~0.35 s of CPU here by design: a thousand
    at once kept the server busy for minutes, and its backlog spilled into the measured minute);
    the step waits until every login is answered, then 10 s for the first actions to settle. Then it
    measures for --step-seconds."""
    steps, before = [], 0
    warm = min(args.steps[0], 10)
    for staff, seconds, measured in [(warm, WARM_UP_SECONDS, False)] + [
        (s, args.step_seconds, True) for s in args.steps
    ]:
        new = max(staff - before, 0)
        rate = max(1.0, min(new / 15, LOGIN_RATE))
        steps.append({"staff": staff, "spawn_rate": rate, "ramp": math.ceil(new / rate) + 10,
                      "seconds": seconds, "measured": measured})  # fmt: skip
        before = staff
    return steps


def _office_day(steps: list[dict], server, plan: Path, work: Path) -> list[dict]:
    """One locust run through every step; returns what each measured step found."""
    out = work / "office-day.json"
    locust = str(Path(sys.executable).parent / "locust")
    command = [
        locust, "-f", str(BENCH / "locustfile.py"), "--headless", "--host", server.base,
        "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10",
    ]  # fmt: skip
    env = dict(os.environ, LOADTEST_PLAN=str(plan), LOADTEST_OUT=str(out))
    # Each step: its logins (an argon2 hash each, ~0.3 s of the server's CPU), 10 s to settle, the measure.
    total = sum(step["ramp"] + 10 + step["seconds"] for step in steps) + max(s["staff"] for s in steps) // 3
    bench._log(
        f"office day: steps of {', '.join(str(s['staff']) for s in steps[1:])} staff (at most {total} s)"
    )
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=total + 300)
    (work / "locust.log").write_text(done.stdout + done.stderr)
    if not out.exists():
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise bench.HarnessError(f"locust wrote no results (exit {done.returncode}): {tail}")
    return json.loads(out.read_text())["steps"]


def _number(text: str):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _step_line(step: dict) -> str:
    worst = max(step["actions"].items(), key=lambda kv: kv[1]["p95_ms"] or 0, default=(None, {}))
    verdict = "pass" if step["passed"] else f"FAIL (slow: {', '.join(step['slow']) or '-'}; failed: "
    verdict += "" if step["passed"] else f"{', '.join(step['failed']) or '-'})"
    requests = sum(a["requests"] for a in step["actions"].values())
    return (f"{step['staff']} staff: {requests} requests, worst p95 {worst[1].get('p95_ms')} ms "
            f"({worst[0]}): {verdict}")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The report


def _table(report: dict) -> str:
    m = report["machine"]
    lines = [
        f"villa office-day load test: {report['customers']:,} customers on {report['database']}"
        + (" (SMOKE: checks the harness, not the speed)" if report["smoke"] else ""),
        f"commit {m.get('commit')}{' (dirty)' if m.get('dirty') else ''}; {m.get('cpus')} CPUs; "
        f"{m.get('platform')}; Python {m.get('python')}; SQLite {m.get('sqlite')}; {m.get('locust')}",
        f"each member of staff: one action every ~10 s; a step passes when no action fails and every "
        f"action's p95 ≤ {report['p95_limit_ms']} ms ({report['step_seconds']} s measured per step)",
        "",
    ]
    for step in report["steps"]:
        lines.append(_step_line(step))
    capacity = report["capacity"]
    lines.append("")
    lines.append(f"CAPACITY: {capacity if capacity is not None else 'none (the first step failed)'} staff")
    at = next((s for s in report["steps"] if s["staff"] == capacity), None)
    if at is None and report["steps"]:
        at = report["steps"][0]
        lines.append(f"(figures below: the first step, {at['staff']} staff, which did not pass)")
    if at:
        rows = [("action", "requests", "p50 ms", "p95 ms", "p99 ms", "failures")]
        rows += [(name, str(a["requests"]), _ms(a["p50_ms"]), _ms(a["p95_ms"]), _ms(a["p99_ms"]),
                  str(a["failures"])) for name, a in at["actions"].items()]  # fmt: skip
        lines += bench._columns(rows[0], rows[1:])
    for step in report["steps"]:
        for error in step["errors"]:
            lines.append(f"error at {step['staff']} staff: {error}")
    for note in report["notes"]:
        lines.append(f"note: {note}")
    for failure in report["failures"]:
        lines.append(f"FAILED: {failure}")
    return "\n".join(lines)


def _ms(value) -> str:
    return "-" if value is None else f"{value:g}"


def _save(report: dict, text: str):
    bench.RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"loadtest-{report['database']}-{report['customers']}"
    json_path = bench.RESULTS / f"{stamp}-{name}.json"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    (bench.RESULTS / f"latest-{name}.txt").write_text(text + "\n")
    bench._log(f"results: {json_path.relative_to(ROOT)} and bench/results/latest-{name}.txt")


if __name__ == "__main__":
    sys.exit(main())
