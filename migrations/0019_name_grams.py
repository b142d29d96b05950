"""Name search that never scans: every character and every pair of adjacent characters of each
customer's name, in name_gram (gram, customer_id).

Database triggers keep it current on every write to customer (insert, a changed name, delete), so
registration, import, merge, anonymising, the bench's seeder and a restore need no Python hook.
SQLite triggers cannot use a CTE: the positions 1..64 come from the small table name_gram_position
(names are at most 40 characters, villa.fields.NAME_MAX). PostgreSQL uses a plpgsql trigger and the
SQL function name_grams(text). The grams of the names already stored are written here once.

A pg_dump restores the table's rows before it creates the triggers, so a restore does not write the
grams a second time.
"""

from peewee import CharField, CompositeKey, IntegerField, Model, SqliteDatabase

POSITIONS = 64

SQLITE_GRAMS = """
    SELECT substr({row}.name, n, 1){also} FROM name_gram_position WHERE n <= length({row}.name)
    UNION SELECT substr({row}.name, n, 2){also} FROM name_gram_position WHERE n < length({row}.name)
"""
NEW_GRAMS = SQLITE_GRAMS.format(row="NEW", also=", NEW.id")
OLD_GRAMS = SQLITE_GRAMS.format(row="OLD", also="")
SQLITE = (
    "CREATE TABLE IF NOT EXISTS name_gram_position (n INTEGER NOT NULL PRIMARY KEY)",
    "INSERT OR IGNORE INTO name_gram_position (n) VALUES "
    + ", ".join(f"({n})" for n in range(1, POSITIONS + 1)),
    f"""CREATE TRIGGER IF NOT EXISTS customer_name_gram_insert AFTER INSERT ON customer BEGIN
    INSERT OR IGNORE INTO name_gram (gram, customer_id) {NEW_GRAMS};
END""",
    f"""CREATE TRIGGER IF NOT EXISTS customer_name_gram_update AFTER UPDATE OF name ON customer
WHEN OLD.name IS NOT NEW.name BEGIN
    DELETE FROM name_gram WHERE customer_id = OLD.id AND gram IN ({OLD_GRAMS});
    INSERT OR IGNORE INTO name_gram (gram, customer_id) {NEW_GRAMS};
END""",
    f"""CREATE TRIGGER IF NOT EXISTS customer_name_gram_delete AFTER DELETE ON customer BEGIN
    DELETE FROM name_gram WHERE customer_id = OLD.id AND gram IN ({OLD_GRAMS});
END""",
)
SQLITE_FILL = """
INSERT OR IGNORE INTO name_gram (gram, customer_id)
SELECT substr(name, n, 1), id FROM customer JOIN name_gram_position ON n <= length(name)
UNION SELECT substr(name, n, 2), id FROM customer JOIN name_gram_position ON n < length(name)
"""

POSTGRES = (
    """CREATE OR REPLACE FUNCTION name_grams(name text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
    SELECT substr(name, i, 1) FROM generate_series(1, char_length(name)) AS i
    UNION SELECT substr(name, i, 2) FROM generate_series(1, char_length(name) - 1) AS i
$$""",
    """CREATE OR REPLACE FUNCTION customer_name_gram() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM name_gram WHERE customer_id = OLD.id AND gram IN (SELECT name_grams(OLD.name));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO name_gram (gram, customer_id) SELECT g, NEW.id FROM name_grams(NEW.name) AS g
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$""",
    "DROP TRIGGER IF EXISTS customer_name_gram ON customer",
    "DROP TRIGGER IF EXISTS customer_name_gram_update ON customer",
    """CREATE TRIGGER customer_name_gram AFTER INSERT OR DELETE ON customer
FOR EACH ROW EXECUTE FUNCTION customer_name_gram()""",
    """CREATE TRIGGER customer_name_gram_update AFTER UPDATE OF name ON customer
FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION customer_name_gram()""",
)
POSTGRES_FILL = """
INSERT INTO name_gram (gram, customer_id)
SELECT g, customer.id FROM customer, name_grams(customer.name) AS g ORDER BY 1, 2 ON CONFLICT DO NOTHING
"""


def up(migrator, db):
    class NameGram(Model):
        gram = CharField(max_length=2)
        customer_id = IntegerField()

        class Meta:
            database = db
            table_name = "name_gram"
            primary_key = CompositeKey("gram", "customer_id")
            without_rowid = isinstance(db, SqliteDatabase)

    db.create_tables([NameGram])
    sqlite = isinstance(db, SqliteDatabase)
    for statement in SQLITE if sqlite else POSTGRES:
        db.execute_sql(statement)
    db.execute_sql(SQLITE_FILL if sqlite else POSTGRES_FILL)


def fill(connection):
    """PostgreSQL, after a bulk load with the triggers off (bench/seed.py): the grams of every name."""
    connection.execute(POSTGRES_FILL)


def down(migrator, db):
    if isinstance(db, SqliteDatabase):
        for trigger in ("insert", "update", "delete"):
            db.execute_sql(f"DROP TRIGGER IF EXISTS customer_name_gram_{trigger}")
        db.execute_sql("DROP TABLE IF EXISTS name_gram_position")
    else:
        db.execute_sql("DROP TRIGGER IF EXISTS customer_name_gram ON customer")
        db.execute_sql("DROP TRIGGER IF EXISTS customer_name_gram_update ON customer")
        db.execute_sql("DROP FUNCTION IF EXISTS customer_name_gram()")
        db.execute_sql("DROP FUNCTION IF EXISTS name_grams(text)")
    db.execute_sql("DROP TABLE IF EXISTS name_gram")
