"""Two-level review: decisions, the outbox to customers, self-service correction links and requests,
and a shared rate-limit counter.

Frozen copies of the models as they were; the encrypted column is a plain BLOB here.
"""

from peewee import BlobField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class CorrectionLink(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        nonce = CharField(unique=True, max_length=64)
        created_by = ForeignKeyField(User, on_delete="RESTRICT")
        created_at = DateTimeField()
        expires_at = DateTimeField()
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "correction_link"

    db.create_tables([CorrectionLink])

    class ChangeRequest(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        link = ForeignKeyField(CorrectionLink, null=True, on_delete="SET NULL")
        changes = BlobField()
        status = CharField(index=True, max_length=10, default="pending")
        created_at = DateTimeField(index=True)
        decided_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        decided_at = DateTimeField(null=True)
        reason = CharField(max_length=500, default="")

        class Meta:
            database = db
            table_name = "change_request"

    db.create_tables([ChangeRequest])

    class OutboxMessage(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        kind = CharField(max_length=20)
        body = CharField(max_length=500)
        status = CharField(index=True, max_length=10, default="to_send")
        gateway = CharField(max_length=40, default="manual")
        created_at = DateTimeField(index=True)
        sent_at = DateTimeField(null=True)
        sent_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        error = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "outbox_message"

    db.create_tables([OutboxMessage])

    class RateEvent(Model):
        key = CharField(index=True, max_length=100)
        at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "rate_event"

    db.create_tables([RateEvent])

    class Review(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        level = IntegerField()
        decision = CharField(max_length=10)
        reason = CharField(max_length=500, default="")
        reviewer = ForeignKeyField(User, on_delete="RESTRICT")
        at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "review"

    db.create_tables([Review])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("review"))
    migrator.migrate(migrator.drop_table("rate_event"))
    migrator.migrate(migrator.drop_table("outbox_message"))
    migrator.migrate(migrator.drop_table("change_request"))
    migrator.migrate(migrator.drop_table("correction_link"))
