"""Deals: each 认筹, 认购 and 签约 with its unit, area, price, date and payment method, who recorded it
and the manager who confirmed it (认购 and 签约), or why it was cancelled (退筹/退房).

Frozen copies of the models as they were.
"""

from peewee import (
    BigIntegerField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
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

    class Deal(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        stage = CharField(max_length=10)
        unit_number = CharField(max_length=30)
        area = DecimalField(max_digits=8, decimal_places=2, auto_round=True)
        price = BigIntegerField()
        deal_date = DateField(index=True)
        payment = CharField(max_length=12)
        status = CharField(max_length=10, default="pending", index=True)
        stage_before = CharField(max_length=10)
        rep = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        recorded_by = ForeignKeyField(User, on_delete="RESTRICT")
        recorded_at = DateTimeField()
        confirmed_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        confirmed_at = DateTimeField(null=True)
        cancelled_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        cancelled_at = DateTimeField(null=True)
        cancel_reason = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "deal"
            indexes = ((("customer", "recorded_at"), False), (("status", "deal_date"), False))

    db.create_tables([Deal])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("deal"))
