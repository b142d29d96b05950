"""报备: agencies, their brokers (with a login of role broker) and the customers brokers report
before the visit, which the desk confirms (确客) on arrival.

Frozen copies of the models as they were; encrypted columns are plain BLOBs here. report.open_key
is unique and NULL once the 报备 is no longer open: both databases allow many NULLs in a unique
index, so it keeps exactly one open 报备 per customer.
"""

from peewee import (
    BlobField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    Model,
)


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class Agency(Model):
        name = CharField(max_length=60, unique=True)
        contract_start = DateField(null=True)
        contract_end = DateField(null=True)
        active = BooleanField(default=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "agency"

    class Broker(Model):
        agency = ForeignKeyField(Agency, on_delete="RESTRICT")
        name = CharField(max_length=40)
        phone = BlobField(null=True)
        phone_index = CharField(max_length=64, null=True, unique=True)
        active = BooleanField(default=True)
        user = ForeignKeyField(User, null=True, unique=True, on_delete="SET NULL")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "broker"

    class Report(Model):
        broker = ForeignKeyField(Broker, on_delete="RESTRICT")
        agency = ForeignKeyField(Agency, on_delete="RESTRICT")
        customer_name = CharField(max_length=40)
        surname = CharField(max_length=2)
        phone = BlobField(null=True)
        phone_index = CharField(max_length=64, null=True, index=True)
        phone_mask = CharField(max_length=11)
        expected_visit = DateField()
        reported_at = DateTimeField()
        valid_until = DateTimeField()
        status = CharField(max_length=10, default="open")
        open_key = CharField(max_length=64, null=True, unique=True)
        confirmed_at = DateTimeField(null=True)
        confirmed_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL")
        created_by = ForeignKeyField(User, on_delete="RESTRICT")

        class Meta:
            database = db
            table_name = "report"
            indexes = (
                (("phone_mask", "surname", "reported_at"), False),
                (("status", "valid_until"), False),
                (("broker", "reported_at"), False),
                (("agency", "reported_at"), False),
            )

    db.create_tables([Agency, Broker, Report])


def down(migrator, db):
    for table in ("report", "broker", "agency"):
        migrator.migrate(migrator.drop_table(table))
