"""Seed a benchmark instance with N customers, their first visits, follow-ups and audit rows, fast.

    VILLA_INSTANCE=/tmp/villa-bench python bench/seed.py --customers 100000 [--out samples.json]

Run it after `villa init` and `villa demo --customers 0` (the demo users own the customers). The
customers come from villa/demo.py's generators (names, phones, ID numbers, needs, deal stage,
ownership) and go through villa.customers.set_phone & co., so normalising, blind indexes and
encryption are the app's own. Only the writing differs from `villa demo`: rows are prepared as
column values as stored in worker processes (one per core; the AES-GCM and HMAC work happens
there) and written by villa.db.insert_stored (the importer's too), one transaction per chunk, with
synchronous=OFF on this connection only. With VILLA_DATABASE_URL=postgresql://… it seeds
PostgreSQL the same way, written with COPY (psycopg 3), synchronous_commit off on this connection.

The --out file lists what the load generator needs: phones that are known (duplicate check hits),
customers the rep `rep` owns (client pages), and the seeding time.
"""

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED = 2026
CHUNK = 5000  # customers per worker task and per write transaction
SAMPLE_PER_CHUNK = 40  # known phones and rep-owned ids kept from each chunk for the load generator

# Set in the parent before the worker processes fork; read by _prepare in the workers.
_STATE: dict = {}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--out", help="write the samples and timing as JSON here")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    result = seed(args.customers, workers=args.workers, log=None if args.quiet else _log)
    if args.out:
        Path(args.out).write_text(json.dumps(result, ensure_ascii=False))
    _log(
        f"seeded {result['customers']} customers, {result['visits']} visits, {result['followups']} "
        f"follow-ups, {result['audit_rows']} audit rows in {result['seconds']:.1f} s "
        f"({result['customers'] / max(result['seconds'], 1e-9):,.0f} customers/s)"
    )
    return 0


def _log(message: str):
    print(f"seed: {message}", file=sys.stderr, flush=True)


def seed(count: int, workers: int = 2, log=None) -> dict:
    """Write `count` customers with their rows; returns samples for the load generator and timings."""
    from villa import create_app
    from villa.db import db, is_sqlite

    app = create_app()
    with app.app_context():
        started = time.perf_counter()
        with db.connection_context():
            _load_state(count)
            # Each seeded rep owns thousands of protected customers: the office's cap (a setting,
            # 200 by default) is lifted so registration measures the write, not the refusal.
            from villa.models import Setting

            Setting.write("protected_customers_cap", 100_000)
        # Fork the preparing workers before this process opens its writing connection.
        context = multiprocessing.get_context("fork")
        chunks = _chunks(count)
        totals = {"customers": 0, "visits": 0, "followups": 0, "audit_rows": 0}
        samples = {"known_phones": [], "rep_customer_ids": []}
        seen_ids: set = set()
        with context.Pool(max(1, workers)) as pool:
            db.connect()
            connection = db.connection()
            _fast_session(connection, is_sqlite())
            try:
                prepared = pool.imap(_prepare, chunks) if workers > 1 else map(_prepare, chunks)
                for part in prepared:
                    _drop_id_collisions(part["customers"], seen_ids)
                    _write(part)
                    for key in totals:
                        totals[key] += len(part[key]) if key != "audit_rows" else len(part["audits"])
                    samples["known_phones"] += part["known_phones"]
                    samples["rep_customer_ids"] += part["rep_customer_ids"]
                    if log and (totals["customers"] % (CHUNK * 10) == 0 or totals["customers"] == count):
                        spent = time.perf_counter() - started
                        log(f"{totals['customers']:,}/{count:,} customers, {spent:.0f} s")
                _finish(connection, is_sqlite())
            finally:
                db.close()
        seconds = time.perf_counter() - started
    return {
        **totals,
        "seconds": round(seconds, 2),
        "workers": workers,
        "rep_id": _STATE["users"]["rep"].id,
        "reception_id": _STATE["users"]["reception"].id,
        **samples,
    }


def _load_state(count: int):
    """What every chunk needs, read once: users, channels, settings, and all the phone numbers."""
    from villa import demo
    from villa.models import Channel, Customer, Setting, User, now

    users = {u.username: u for u in User.select().where(User.is_demo == True)}  # noqa: E712
    missing = {name for name, *_ in demo.DEMO_USERS} - set(users)
    if missing:
        names = ", ".join(sorted(missing))
        raise SystemExit(f"demo users missing ({names}): run `villa demo --customers 0` first")
    if Customer.select().exists():
        raise SystemExit("the database already holds customers: seed a fresh instance")
    channels = list(Channel.select().where(Channel.active == True).order_by(Channel.id))  # noqa: E712
    _STATE.update(
        users=users,
        channels=channels,
        weights=[demo.CHANNEL_WEIGHTS.get(c.code, 10) for c in channels],
        now=now(),
        notice=Setting.read("privacy_notice_version", "2026-11"),
        days={
            "visit": Setting.read("protection_days_visit", 15),
            "call": Setting.read("protection_days_call", 7),
        },
        phones=_phones(count),
        customer_fields=[f for f in Customer._meta.sorted_fields],
    )


def _phones(count: int) -> list[str]:
    """Distinct mainland mobiles from demo's prefixes: one per customer plus spares for alt phones.

    Prefixes 191, 195 and 196 are never used here: the benchmark's misses, registrations and
    import rows use them, so they can never collide with a seeded customer.
    """
    from villa import demo

    rng = random.Random(SEED)
    wanted = int(count * 1.3) + 100
    seen: dict[str, None] = {}
    prefixes = [p for p in demo.MOBILE_PREFIXES]
    while len(seen) < wanted:
        number = rng.choice(prefixes) + f"{rng.randrange(10**8):08d}"
        if number not in demo.RESERVED_PHONES:
            seen.setdefault(number, None)
    return list(seen)


def _chunks(count: int):
    phones = _STATE["phones"]
    per_chunk = int(CHUNK * 1.3)
    for number, start in enumerate(range(0, count, CHUNK)):
        size = min(CHUNK, count - start)
        yield {
            "number": number,
            "first_id": start + 1,
            "size": size,
            "phones": phones[number * per_chunk : number * per_chunk + per_chunk],
        }


def _prepare(chunk: dict) -> dict:
    """In a worker: build one chunk's customers with demo's generators, as plain column values."""
    from villa import demo
    from villa.crypto import EncryptedField, keyring

    rng = random.Random(SEED * 1_000_003 + chunk["number"])
    state = _STATE
    users, current = state["users"], state["now"]
    ctx = {
        "rng": rng,
        "users": users,
        "now": current,
        "notice": state["notice"],
        "days": state["days"],
        "phones": list(reversed(chunk["phones"])),  # _customer pops from the end
        "ids": set(),
    }
    ring = keyring()
    by_id = {u.id: u for u in users.values()}
    fields = state["customer_fields"]
    picked = rng.choices(state["channels"], state["weights"], k=chunk["size"])
    customers, visits, followups, audits = [], [], [], []
    known_phones, rep_ids = [], []
    rep_id = users["rep"].id
    for offset, channel in enumerate(picked):
        c = demo._customer(ctx, channel)
        c.id = chunk["first_id"] + offset
        written, written_audits = _followups(rng, c, current, author=c.owner_id or rep_id)
        row = []
        for f in fields:
            value = c.__data__.get(f.name)
            if isinstance(f, EncryptedField):
                value = None if value in (None, "") else ring.encrypt(str(value), f._context())
            elif hasattr(value, "isoformat"):
                value = str(value)  # dates and datetimes as sqlite3's adapters store them for the app
            row.append(value)
        customers.append(tuple(row))
        visits.append(
            (c.id, c.visit_type, str(c.registered_at), c.registered_by_id, c.owner_id, True, False, "",
             str(c.registered_at))
        )  # fmt: skip
        owner = by_id.get(c.owner_id)
        audits.append(
            (str(c.registered_at), c.registered_by_id, "registered", c.id, f"customer:{c.id}",
             json.dumps({"owner": owner.username if owner else None, "channel": channel.code}))
        )  # fmt: skip
        followups += written
        audits += written_audits
        if len(known_phones) < SAMPLE_PER_CHUNK and rng.random() < 0.05:
            known_phones.append(c.phone[3:])  # the national digits, as the desk types them
        if c.owner_id == rep_id and len(rep_ids) < SAMPLE_PER_CHUNK and rng.random() < 0.05:
            rep_ids.append(c.id)
    return {
        "customers": customers,
        "visits": visits,
        "followups": followups,
        "audits": audits,
        "known_phones": known_phones,
        "rep_customer_ids": rep_ids,
    }


def _followups(rng, c, current, author) -> tuple[list, list]:
    """0-4 follow-ups between the registration and now (villa.demo.draw_followups), each with its
    audit row, as add_followup writes them; the customer gets the first one's time."""
    from villa.demo import draw_followups

    drawn = draw_followups(rng, c.registered_at, current)
    c.first_followup_at = min((d.at for d in drawn), default=None)
    followups = [
        (c.id, author, d.kind, d.reached, d.content, d.result, str(d.next_at) if d.next_at else None,
         None, None, str(d.at), str(d.done_at) if d.done_at else None)
        for d in drawn
    ]  # fmt: skip
    audits = [
        (str(d.at), author, "followup_added", c.id, f"customer:{c.id}", json.dumps({"reached": d.reached}))
        for d in drawn
    ]
    return followups, audits


def _drop_id_collisions(rows: list, seen: set):
    """ID numbers are unique per chunk; across chunks a rare repeat loses its ID number instead."""
    columns = [f.name for f in _STATE["customer_fields"]]
    index_at, number_at = columns.index("id_index"), columns.index("id_number")
    for position, row in enumerate(rows):
        index = row[index_at]
        if index is None:
            continue
        if index in seen:
            row = list(row)
            row[index_at] = row[number_at] = None
            rows[position] = tuple(row)
        else:
            seen.add(index)


# PostgreSQL: the tables the seed writes, whose plain indexes are built once at the end.
BULK_TABLES = ("customer", "visit", "follow_up", "audit_log")


def _fast_session(connection, sqlite: bool):
    """This connection only: no fsync per commit (a failed seed is simply run again); no foreign-key
    checks (every row's parent is written before it). On PostgreSQL also a bulk load: the seeded
    tables' plain indexes are dropped and built again at the end (one sort each instead of millions
    of insertions), and no trigger fires (session_replication_role = replica, as pg_restore's
    --disable-triggers; it needs a superuser, else only customer's own triggers are disabled): the
    tables the triggers keep are filled once at the end, by their migrations' fill."""
    if not sqlite:
        connection.execute("SET synchronous_commit = off")
        indexes = connection.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = ANY(%s) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.connamespace = "
            "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()))",
            [list(BULK_TABLES)],
        ).fetchall()
        for name, _definition in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        try:
            connection.execute("SET session_replication_role = replica")
            _STATE["replica"] = True
        except Exception:  # noqa: BLE001 - not a superuser: the customer table's triggers only
            connection.rollback()
            connection.execute("SET synchronous_commit = off")
            connection.execute("ALTER TABLE customer DISABLE TRIGGER USER")
            _STATE["replica"] = False
        connection.commit()
        _STATE["indexes"] = [definition for _name, definition in indexes]
        return
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA foreign_keys=OFF")
    connection.execute("PRAGMA cache_size=-1000000")
    connection.execute("PRAGMA temp_store=MEMORY")


def _finish(connection, sqlite: bool):
    """Fresh planner statistics for the served queries, as `villa daily` keeps them (without, SQLite
    plans with those `villa demo` took of near-empty tables: the timeline then scans the whole audit
    log); then SQLite folds the WAL into the file. PostgreSQL: the customers were written with their
    ids, so the id sequence moves past them first."""
    if sqlite:
        connection.execute("ANALYZE")
        connection.commit()
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    from villa.models import Customer

    connection.execute("SET maintenance_work_mem = '1GB'")
    for definition in _STATE["indexes"]:
        connection.execute(definition)
    if _STATE["replica"]:
        connection.execute("SET session_replication_role = DEFAULT")
    else:
        connection.execute("ALTER TABLE customer ENABLE TRIGGER USER")
    for fill in _trigger_fills():
        fill(connection)
    connection.commit()

    table = Customer._meta.table_name
    connection.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM \"{table}\"))"
    )
    connection.execute("VACUUM (ANALYZE)")  # the visibility map too: index-only scans read no rows
    connection.commit()


def _trigger_fills(only: str = "") -> list:
    """The fill of every table kept by database triggers (a migration's `fill(connection)`): what
    the triggers would have written for the seeded rows, written in one statement each. `only`: the
    fills of the migrations whose file name starts so."""
    import importlib.util

    from villa.db import MIGRATIONS_DIR

    fills = []
    for path in sorted(MIGRATIONS_DIR.glob(f"{only or '[0-9]'}*.py")):
        spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, "fill"):
            fills.append(module.fill)
    return fills


def _write(part: dict):
    from villa.db import db, insert_stored, is_sqlite
    from villa.models import AuditLog, Customer, FollowUp, Visit

    visit_columns = ("customer", "kind", "at", "received_by", "rep", "is_first", "via_rotation", "note",
                     "acknowledged_at")  # fmt: skip
    followup_columns = ("customer", "author", "kind", "reached", "content", "result", "next_at", "grade",
                        "corrects", "created_at", "next_done_at")  # fmt: skip
    audit_columns = ("at", "actor", "action", "customer", "target", "changes")
    write = insert_stored if is_sqlite() else _copy
    with db.atomic():
        write(Customer, [f.name for f in _STATE["customer_fields"]], part["customers"])
        write(Visit, visit_columns, part["visits"])
        write(FollowUp, followup_columns, part["followups"])
        write(AuditLog, audit_columns, part["audits"])


def _copy(model, names: list[str], rows: list):
    """PostgreSQL: the rows through COPY (psycopg 3), several times faster than INSERTs."""
    from villa.db import db

    columns = ", ".join(f'"{model._meta.fields[name].column_name}"' for name in names)
    sql = f'COPY "{model._meta.table_name}" ({columns}) FROM STDIN'
    with db.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


if __name__ == "__main__":
    sys.exit(main())
