"""Daily summary tables for the dashboard and the scorecards (issue 16), kept by database triggers.

Each table counts rows by office day (the UTC+8 date of a timestamp) and what a figure is counted
by, so a 90-day figure sums a few thousand rows instead of reading every customer of the period:

- daily_registrations: customers by registration day × channel × visit type (the dashboard's
  registrations per day);
- daily_customer_mix: customers by registration day × channel × stage × grade × lost_from (the
  customer mix, funnel, channel table and lost customers);
- daily_owner_registrations: customers by owner × registration day × stage × lost_from, with the
  completeness fields filled, those with a first follow-up and the office days to it (scorecards);
- daily_reviews: review decisions by the customer's owner now × review day × level × decision;
- daily_followups_due: follow-ups with a next date by author × that date × the day written, with
  how many got a next contact and how many on time (timeliness);
- daily_visits: desk visits by day × first or return;
- daily_pool: releases to the public pool and claims from it, by day × audit action;
- daily_grade_moves: grade changes by day × grade before × grade after (read from the audit row's
  JSON; '' for a missing value).

Owners and authors are 0 for none and lost_from is '' unless the stage is lost: every key column
is NOT NULL, so one INSERT … ON CONFLICT … DO UPDATE adds a change on both databases; a row whose
count falls to 0 is deleted.

customer.lost_from is the stage a lost customer left, as the dashboard has always read it: the
"x" of the customer's latest stage_changed audit row when that row reads [x, "lost"], "registered"
otherwise (or with no such row). Triggers on audit_log keep it (a stage change, audit rows moved by
a merge or scrubbed by anonymising), and it is filled here from the audit log.

The triggers (SQLite) and trigger functions (PostgreSQL, plpgsql) fire on the writes to customer,
review, follow_up, visit and audit_log that move a count, so registration, edits, import, merge and
its undo, anonymising, the bench's seeder (COPY) and a restore need no Python hook. The counts of the rows
already stored are written here once. A pg_dump restores the tables' rows before it creates the
triggers, so a restore does not count anything twice.
"""

from peewee import SqliteDatabase

STAGES_LEFT = ("visited", "pledged", "subscribed", "signed")  # the first that matches, as the live CASE
OFFSET = "8 hours"

# The completeness checklist (villa.scorecard.FILLED_SQL), field by field, as of this migration.
FILLED = (
    "{r}.name <> ''",
    "{r}.phone_index IS NOT NULL AND {r}.phone_index <> ''",
    "{r}.channel_id IS NOT NULL",
    "{r}.gender IN ('M', 'F')",
    "{r}.age_band <> ''",
    "{r}.unit_type <> ''",
    "{r}.area_band <> ''",
    "{r}.budget <> ''",
    "{r}.purpose <> ''",
    "{r}.hukou_local IS NOT NULL",
    "{r}.social_insurance_months IS NOT NULL OR {r}.hukou_local = {true}",
    "{r}.homes_owned IS NOT NULL",
)
CHECKLIST_COLUMNS = (
    "name",
    "phone_index",
    "channel_id",
    "gender",
    "age_band",
    "unit_type",
    "area_band",
    "budget",
    "purpose",
    "hukou_local",
    "social_insurance_months",
    "homes_owned",
)

TABLES = (
    """CREATE TABLE daily_registrations (
    day DATE NOT NULL, channel_id INTEGER NOT NULL, visit_type VARCHAR(5) NOT NULL,
    customers INTEGER NOT NULL,
    PRIMARY KEY (day, channel_id, visit_type)){without_rowid}""",
    """CREATE TABLE daily_customer_mix (
    day DATE NOT NULL, channel_id INTEGER NOT NULL, stage VARCHAR(10) NOT NULL,
    grade VARCHAR(2) NOT NULL, lost_from VARCHAR(10) NOT NULL, customers INTEGER NOT NULL,
    PRIMARY KEY (day, channel_id, stage, grade, lost_from)){without_rowid}""",
    """CREATE TABLE daily_owner_registrations (
    owner_id INTEGER NOT NULL, day DATE NOT NULL, stage VARCHAR(10) NOT NULL,
    lost_from VARCHAR(10) NOT NULL, customers INTEGER NOT NULL, fields_filled INTEGER NOT NULL,
    followed_up INTEGER NOT NULL, days_to_first INTEGER NOT NULL,
    PRIMARY KEY (owner_id, day, stage, lost_from)){without_rowid}""",
    """CREATE TABLE daily_reviews (
    owner_id INTEGER NOT NULL, day DATE NOT NULL, level INTEGER NOT NULL,
    decision VARCHAR(10) NOT NULL, reviews INTEGER NOT NULL,
    PRIMARY KEY (owner_id, day, level, decision)){without_rowid}""",
    """CREATE TABLE daily_followups_due (
    author_id INTEGER NOT NULL, due_on DATE NOT NULL, written_on DATE NOT NULL,
    due INTEGER NOT NULL, done INTEGER NOT NULL, on_time INTEGER NOT NULL,
    PRIMARY KEY (author_id, due_on, written_on)){without_rowid}""",
    """CREATE TABLE daily_visits (
    day DATE NOT NULL, is_first {boolean} NOT NULL, visits INTEGER NOT NULL,
    PRIMARY KEY (day, is_first)){without_rowid}""",
    """CREATE TABLE daily_pool (
    day DATE NOT NULL, action VARCHAR(40) NOT NULL, entries INTEGER NOT NULL,
    PRIMARY KEY (day, action)){without_rowid}""",
    """CREATE TABLE daily_grade_moves (
    day DATE NOT NULL, grade_from TEXT NOT NULL, grade_to TEXT NOT NULL, moves INTEGER NOT NULL,
    PRIMARY KEY (day, grade_from, grade_to)){without_rowid}""",
)
POOL_ACTIONS = ("pool_claimed", "pool_taken", "released_to_pool")  # villa.analytics.public_pool's


class Dialect:
    """What differs between the two databases in the statements below."""

    def __init__(self, sqlite: bool):
        self.sqlite = sqlite
        self.true = "1" if sqlite else "true"
        self.like = "LIKE" if sqlite else "ILIKE"  # as peewee's contains() on each

    def day(self, column: str) -> str:
        if self.sqlite:
            return f"date({column}, '+{OFFSET}')"
        return f"CAST({column} + interval '{OFFSET}' AS date)"

    def days_between(self, later: str, earlier: str) -> str:
        if self.sqlite:
            number = "CAST(julianday({}, '+{}') + 0.5 AS INTEGER)"
            return f"({number.format(later, OFFSET)} - {number.format(earlier, OFFSET)})"
        return f"({self.day(later)} - {self.day(earlier)})"

    def grade_moved(self, changes: str, position: int) -> str:
        """The grade before (0) or after (1) of a grade_changed audit row, '' when it has none; a
        changes text that is not JSON gives '' rather than failing the write."""
        if self.sqlite:
            value = f"CASE WHEN json_valid({changes}) THEN json_extract({changes}, '$.grade[{position}]') END"
        else:
            value = f"audit_grade_moved({changes}, {position})"
        return f"COALESCE({value}, '')"

    def filled(self, row: str) -> str:
        checks = (f"CASE WHEN {check.format(r=row, true=self.true)} THEN 1 ELSE 0 END" for check in FILLED)
        return "(" + " + ".join(checks) + ")"

    def stage_left(self, changes: str) -> str:
        """The funnel's reading of a stage_changed audit row's changes: the stage left for lost."""
        whens = " ".join(
            f"""WHEN {changes} {self.like} '%["{stage}", "lost"]%' THEN '{stage}'""" for stage in STAGES_LEFT
        )
        return f"CASE {whens} ELSE 'registered' END"

    def latest_stage_left(self, customer_id: str) -> str:
        latest = (
            f"SELECT {self.stage_left('a.changes')} FROM audit_log AS a "
            f"WHERE a.customer_id = {customer_id} AND a.action = 'stage_changed' ORDER BY a.id DESC LIMIT 1"
        )
        return f"COALESCE(({latest}), 'registered')"


OWNER_OF_CUSTOMER = "COALESCE((SELECT c.owner_id FROM customer AS c WHERE c.id = {r}.customer_id), 0)"


def summaries(d: Dialect) -> dict:
    """Per summary table: its key and counted columns as SQL of a source row ({r}: OLD or NEW)."""
    lost_from = "CASE WHEN {r}.stage = 'lost' THEN {r}.lost_from ELSE '' END"
    return {
        "daily_registrations": (
            {
                "day": d.day("{r}.registered_at"),
                "channel_id": "{r}.channel_id",
                "visit_type": "{r}.visit_type",
            },
            {"customers": "1"},
        ),
        "daily_customer_mix": (
            {
                "day": d.day("{r}.registered_at"),
                "channel_id": "{r}.channel_id",
                "stage": "{r}.stage",
                "grade": "{r}.grade",
                "lost_from": lost_from,
            },
            {"customers": "1"},
        ),
        "daily_owner_registrations": (
            {
                "owner_id": "COALESCE({r}.owner_id, 0)",
                "day": d.day("{r}.registered_at"),
                "stage": "{r}.stage",
                "lost_from": lost_from,
            },
            {
                "customers": "1",
                "fields_filled": d.filled("{r}"),
                "followed_up": "CASE WHEN {r}.first_followup_at IS NULL THEN 0 ELSE 1 END",
                "days_to_first": "COALESCE({}, 0)".format(
                    d.days_between("{r}.first_followup_at", "{r}.registered_at")
                ),
            },
        ),
        "daily_reviews": (
            {
                "owner_id": OWNER_OF_CUSTOMER,
                "day": d.day("{r}.at"),
                "level": "{r}.level",
                "decision": "{r}.decision",
            },
            {"reviews": "1"},
        ),
        "daily_followups_due": (
            {"author_id": "{r}.author_id", "due_on": "{r}.next_at", "written_on": d.day("{r}.created_at")},
            {
                "due": "1",
                "done": "CASE WHEN {r}.next_done_at IS NULL THEN 0 ELSE 1 END",
                "on_time": f"CASE WHEN {d.day('{r}.next_done_at')} <= {{r}}.next_at THEN 1 ELSE 0 END",
            },
        ),
        "daily_visits": ({"day": d.day("{r}.at"), "is_first": "{r}.is_first"}, {"visits": "1"}),
        "daily_pool": ({"day": d.day("{r}.at"), "action": "{r}.action"}, {"entries": "1"}),
        "daily_grade_moves": (
            {
                "day": d.day("{r}.at"),
                "grade_from": d.grade_moved("{r}.changes", 0),
                "grade_to": d.grade_moved("{r}.changes", 1),
            },
            {"moves": "1"},
        ),
    }


def add(d: Dialect, table: str, row: str, sign: str, where: str = "") -> list[str]:
    """The statements that add (sign '+') or take away ('-') one source row's counts.

    Adding inserts the row or adds to it; taking away only ever updates a row that is there (a table
    emptied before its source rows, as the tests' reset does, gets no negative counts) and deletes it
    when its count reaches 0.
    """
    keys, counts = summaries(d)[table]
    key_values = [expr.format(r=row) for expr in keys.values()]
    count_values = [f"({expr.format(r=row)})" for expr in counts.values()]
    matches = " AND ".join(f"{k} = {v}" for k, v in zip(keys, key_values, strict=True))
    only = f" AND {where}" if where else ""
    if sign == "-":
        takes = ", ".join(f"{c} = {c} - {v}" for c, v in zip(counts, count_values, strict=True))
        return [
            f"UPDATE {table} SET {takes} WHERE {matches}{only}",
            f"DELETE FROM {table} WHERE {matches} AND {next(iter(counts))} = 0",
        ]
    columns = ", ".join((*keys, *counts))
    adds = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
    # A SELECT (not VALUES) so a WHERE can skip rows; SQLite needs the WHERE before an upsert anyway.
    return [
        f"INSERT INTO {table} ({columns}) SELECT {', '.join(key_values + count_values)} "
        f"WHERE {where or '1 = 1'} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}"
    ]


def move_reviews(d: Dialect, sign: str, owner: str) -> list[str]:
    """Add or take away all the reviews of one customer (OLD/NEW.id) at `owner` (an owner change)."""
    if sign == "-":
        days = f"SELECT {d.day('r.at')} FROM review AS r WHERE r.customer_id = OLD.id"
        same = (
            f"r.customer_id = OLD.id AND {d.day('r.at')} = daily_reviews.day "
            "AND r.level = daily_reviews.level AND r.decision = daily_reviews.decision"
        )
        mine = f"owner_id = COALESCE({owner}, 0) AND day IN ({days})"
        return [
            f"UPDATE daily_reviews SET reviews = reviews - (SELECT COUNT(*) FROM review AS r WHERE {same}) "
            f"WHERE {mine}",
            f"DELETE FROM daily_reviews WHERE {mine} AND reviews = 0",
        ]
    return [
        f"INSERT INTO daily_reviews (owner_id, day, level, decision, reviews) "
        f"SELECT COALESCE({owner}, 0), {d.day('r.at')}, r.level, r.decision, COUNT(*) FROM review AS r "
        f"WHERE r.customer_id = NEW.id GROUP BY {d.day('r.at')}, r.level, r.decision "
        "ON CONFLICT (owner_id, day, level, decision) "
        "DO UPDATE SET reviews = daily_reviews.reviews + excluded.reviews"
    ]


def changed(d: Dialect, table: str) -> str:
    """When an update moves a source row's counts: one of the summary's expressions differs between
    OLD and NEW (a key rotation rewriting every phone_index, or a time moved within its office day,
    changes nothing). A review's owner is a lookup, which a PostgreSQL trigger's WHEN may not hold:
    there, any change of the columns read."""
    differs = "IS NOT" if d.sqlite else "IS DISTINCT FROM"
    if table == "daily_reviews":
        return " OR ".join(f"OLD.{c} {differs} NEW.{c}" for c in WATCHED[table])
    keys, counts = summaries(d)[table]
    expressions = (*keys.values(), *counts.values())
    return " OR ".join(f"({e.format(r='OLD')}) {differs} ({e.format(r='NEW')})" for e in expressions)


# The source columns each summary reads, for the UPDATE OF triggers.
WATCHED = {
    "daily_registrations": ("registered_at", "channel_id", "visit_type"),
    "daily_customer_mix": ("registered_at", "channel_id", "stage", "grade", "lost_from"),
    "daily_owner_registrations": (
        "owner_id",
        "registered_at",
        "stage",
        "lost_from",
        "first_followup_at",
        *CHECKLIST_COLUMNS,
    ),
    "daily_reviews": ("customer_id", "at", "level", "decision"),
    "daily_followups_due": ("author_id", "next_at", "created_at", "next_done_at"),
    "daily_visits": ("at", "is_first"),
    "daily_pool": ("action", "at"),
    "daily_grade_moves": ("action", "at", "changes"),
}
SOURCE = {
    "daily_registrations": "customer",
    "daily_customer_mix": "customer",
    "daily_owner_registrations": "customer",
    "daily_reviews": "review",
    "daily_followups_due": "follow_up",
    "daily_visits": "visit",
    "daily_pool": "audit_log",
    "daily_grade_moves": "audit_log",
}
# The source rows a summary counts (the triggers' WHEN): follow-ups with a next date, the pool's and
# the grade changes' audit rows.
FILTER = {
    "daily_followups_due": "{r}.next_at IS NOT NULL",
    "daily_pool": "{r}.action IN (" + ", ".join(f"'{a}'" for a in POOL_ACTIONS) + ")",
    "daily_grade_moves": "{r}.action = 'grade_changed'",
}
# And in the statements: a review's row counts while its customer exists (a customer's deletion
# takes its reviews away first, before the cascade deletes them).
ONLY = {**FILTER, "daily_reviews": "EXISTS (SELECT 1 FROM customer AS c WHERE c.id = {r}.customer_id)"}


def whens(d: Dialect, table: str) -> dict:
    """The WHEN of the insert, delete and update triggers of a summary ('' for none)."""
    only = FILTER.get(table)
    update = changed(d, table)
    if only is None:
        return {"insert": "", "delete": "", "update": update}
    either = f"({only.format(r='OLD')} OR {only.format(r='NEW')})"
    return {
        "insert": only.format(r="NEW"),
        "delete": only.format(r="OLD"),
        "update": f"{either} AND ({update})",
    }


def sqlite_triggers() -> list[str]:
    d = Dialect(sqlite=True)
    triggers = []
    for table, source in SOURCE.items():
        only = ONLY.get(table, "")
        minus = add(d, table, "OLD", "-", only.format(r="OLD"))
        plus = add(d, table, "NEW", "+", only.format(r="NEW"))
        columns = ", ".join(WATCHED[table])
        conditions = whens(d, table)
        for event, body in (("INSERT", plus), ("DELETE", minus), (f"UPDATE OF {columns}", minus + plus)):
            kind = event.split()[0].lower()
            when = f" WHEN {conditions[kind]}" if conditions[kind] else ""
            statements = "".join(f"    {s};\n" for s in body)
            triggers.append(
                f"CREATE TRIGGER {table}_{kind} AFTER {event} ON {source}{when} BEGIN\n{statements}END"
            )
    owner_moves = move_reviews(d, "-", "OLD.owner_id") + move_reviews(d, "+", "NEW.owner_id")
    triggers.append(
        "CREATE TRIGGER daily_reviews_owner AFTER UPDATE OF owner_id ON customer "
        "WHEN OLD.owner_id IS NOT NEW.owner_id BEGIN\n" + "".join(f"    {s};\n" for s in owner_moves) + "END"
    )
    gone = move_reviews(d, "-", "OLD.owner_id")
    triggers.append(
        "CREATE TRIGGER daily_reviews_customer_delete BEFORE DELETE ON customer BEGIN\n"
        + "".join(f"    {s};\n" for s in gone)
        + "END"
    )
    refresh = "UPDATE customer SET lost_from = {} WHERE id = {}"
    for event, rows, when in (
        ("INSERT", ("NEW",), "NEW.action = 'stage_changed'"),
        ("DELETE", ("OLD",), "OLD.action = 'stage_changed'"),
        (
            "UPDATE OF action, customer_id, changes",
            ("OLD", "NEW"),
            "(OLD.action = 'stage_changed' OR NEW.action = 'stage_changed')",
        ),
    ):
        body = "".join(
            f"    {refresh.format(d.latest_stage_left(f'{row}.customer_id'), f'{row}.customer_id')};\n"
            for row in rows
        )
        name = f"customer_lost_from_{event.split()[0].lower()}"
        triggers.append(f"CREATE TRIGGER {name} AFTER {event} ON audit_log WHEN {when} BEGIN\n{body}END")
    return triggers


# PostgreSQL: what Dialect.grade_moved calls, for the fill and the triggers.
GRADE_MOVED = """CREATE OR REPLACE FUNCTION audit_grade_moved(changes text, place integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN changes::jsonb -> 'grade' ->> place;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$"""


def postgres_triggers() -> list[str]:
    d = Dialect(sqlite=False)
    statements = []
    for table, source in SOURCE.items():
        only = ONLY.get(table, "")
        minus = "".join(f"        {s};\n" for s in add(d, table, "OLD", "-", only.format(r="OLD")))
        plus = "".join(f"        {s};\n" for s in add(d, table, "NEW", "+", only.format(r="NEW")))
        statements += [
            f"""CREATE OR REPLACE FUNCTION {table}_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
{minus}    END IF;
    IF TG_OP <> 'DELETE' THEN
{plus}    END IF;
    RETURN NULL;
END
$$""",
        ]
        conditions = whens(d, table)
        for kind, event in (
            ("insert", "INSERT"),
            ("delete", "DELETE"),
            ("update", f"UPDATE OF {', '.join(WATCHED[table])}"),
        ):
            when = f"WHEN ({conditions[kind]}) " if conditions[kind] else ""
            statements.append(
                f"CREATE TRIGGER {table}_{kind} AFTER {event} ON {source}\n"
                f"FOR EACH ROW {when}EXECUTE FUNCTION {table}_count()"
            )
    minus = "".join(f"        {s};\n" for s in move_reviews(d, "-", "OLD.owner_id"))
    plus = "".join(f"        {s};\n" for s in move_reviews(d, "+", "NEW.owner_id"))
    statements += [
        f"""CREATE OR REPLACE FUNCTION daily_reviews_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{minus}    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
{plus}    RETURN NULL;
END
$$""",
        """CREATE TRIGGER daily_reviews_owner AFTER UPDATE OF owner_id ON customer
FOR EACH ROW WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id) EXECUTE FUNCTION daily_reviews_owner()""",
        """CREATE TRIGGER daily_reviews_customer_delete BEFORE DELETE ON customer
FOR EACH ROW EXECUTE FUNCTION daily_reviews_owner()""",
        f"""CREATE OR REPLACE FUNCTION customer_lost_from() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE customer SET lost_from = {d.latest_stage_left("OLD.customer_id")} WHERE id = OLD.customer_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE customer SET lost_from = {d.latest_stage_left("NEW.customer_id")} WHERE id = NEW.customer_id;
    END IF;
    RETURN NULL;
END
$$""",
        """CREATE TRIGGER customer_lost_from AFTER INSERT ON audit_log
FOR EACH ROW WHEN (NEW.action = 'stage_changed') EXECUTE FUNCTION customer_lost_from()""",
        """CREATE TRIGGER customer_lost_from_delete AFTER DELETE ON audit_log
FOR EACH ROW WHEN (OLD.action = 'stage_changed') EXECUTE FUNCTION customer_lost_from()""",
        """CREATE TRIGGER customer_lost_from_update AFTER UPDATE OF action, customer_id, changes ON audit_log
FOR EACH ROW WHEN (OLD.action = 'stage_changed' OR NEW.action = 'stage_changed')
EXECUTE FUNCTION customer_lost_from()""",
    ]
    return statements


def fills(d: Dialect) -> list[str]:
    """The counts of the rows already stored, one INSERT … SELECT … GROUP BY per table."""
    sql = []
    for table, (keys, counts) in summaries(d).items():
        source = SOURCE[table]
        where = ONLY.get(table, "1 = 1").format(r="s")
        key_values = [expr.format(r="s") for expr in keys.values()]
        sums = [f"SUM({expr.format(r='s')})" for expr in counts.values()]
        if table == "daily_reviews":  # the owner by a join rather than a lookup per review
            key_values[0] = "COALESCE(c.owner_id, 0)"
            source = "review AS s JOIN customer AS c ON c.id = s.customer_id"
            where = "1 = 1"
        else:
            source = f"{source} AS s"
        positions = ", ".join(str(n) for n in range(1, len(keys) + 1))
        sql.append(
            f"INSERT INTO {table} ({', '.join((*keys, *counts))}) "
            f"SELECT {', '.join(key_values + sums)} FROM {source} WHERE {where} GROUP BY {positions}"
        )
    return sql


def fill_lost_from(d: Dialect) -> str:
    """customer.lost_from of every customer with a stage change on record (the others: the default)."""
    return (
        f"UPDATE customer SET lost_from = {d.latest_stage_left('customer.id')} "
        "WHERE id IN (SELECT customer_id FROM audit_log WHERE action = 'stage_changed')"
    )


def up(migrator, db):
    sqlite = isinstance(db, SqliteDatabase)
    d = Dialect(sqlite)
    # A plain ADD COLUMN with its default: peewee's add_column would rebuild customer on SQLite,
    # which drops the table's triggers.
    db.execute_sql("ALTER TABLE customer ADD COLUMN lost_from VARCHAR(10) NOT NULL DEFAULT 'registered'")
    types = (
        {"without_rowid": " WITHOUT ROWID", "boolean": "INTEGER"}
        if sqlite
        else {"without_rowid": "", "boolean": "BOOLEAN"}
    )
    for table in TABLES:
        db.execute_sql(table.format(**types))
    if not sqlite:
        db.execute_sql(GRADE_MOVED)
    for statement in (fill_lost_from(d), *fills(d), *(sqlite_triggers() if sqlite else postgres_triggers())):
        # psycopg reads % as a parameter's place even when there are none: the LIKE patterns' are doubled.
        db.execute_sql(statement if sqlite else statement.replace("%", "%%"))
    if not sqlite:  # the planner's statistics of the new tables now, not at autovacuum's next round
        for table in SOURCE:
            db.execute_sql(f"ANALYZE {table}")


def fill(connection):
    """PostgreSQL, after a bulk load with the triggers off (bench/seed.py): lost_from, then every
    summary counted again from the rows (emptied first: the UPDATE's triggers, and whatever was
    counted before the load, would otherwise count twice)."""
    d = Dialect(False)
    connection.execute(fill_lost_from(d))
    for table in SOURCE:
        connection.execute(f"DELETE FROM {table}")
    for statement in fills(d):
        connection.execute(statement)


TRIGGERS = (
    *(f"{table}_{event}" for table in SOURCE for event in ("insert", "delete", "update")),
    "daily_reviews_owner",
    "daily_reviews_customer_delete",
    *(f"customer_lost_from_{event}" for event in ("insert", "delete", "update")),
)


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        for trigger in TRIGGERS:
            db.execute_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    else:
        for table, source in SOURCE.items():
            for kind in ("insert", "delete", "update"):
                db.execute_sql(f"DROP TRIGGER IF EXISTS {table}_{kind} ON {source}")
            db.execute_sql(f"DROP FUNCTION IF EXISTS {table}_count()")
        db.execute_sql("DROP FUNCTION IF EXISTS audit_grade_moved(text, integer)")
        db.execute_sql("DROP TRIGGER IF EXISTS daily_reviews_owner ON customer")
        db.execute_sql("DROP TRIGGER IF EXISTS daily_reviews_customer_delete ON customer")
        db.execute_sql("DROP FUNCTION IF EXISTS daily_reviews_owner()")
        for trigger in ("customer_lost_from", "customer_lost_from_delete", "customer_lost_from_update"):
            db.execute_sql(f"DROP TRIGGER IF EXISTS {trigger} ON audit_log")
        db.execute_sql("DROP FUNCTION IF EXISTS customer_lost_from()")
    for table in SOURCE:
        db.execute_sql(f"DROP TABLE IF EXISTS {table}")
    # Not peewee's drop_column: on SQLite it rebuilds customer, which drops the name index's triggers.
    db.execute_sql("ALTER TABLE customer DROP COLUMN lost_from")
