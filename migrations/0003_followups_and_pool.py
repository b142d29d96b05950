"""Follow-ups (append-only), and when a customer entered the public pool or was claimed from it."""

from peewee import BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, Model, TextField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("customer", "pool_since", DateTimeField(null=True)),
        migrator.add_column("customer", "claimed_at", DateTimeField(null=True)),
    )

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class FollowUp(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        author = ForeignKeyField(User, on_delete="RESTRICT")
        kind = CharField(max_length=10)
        reached = BooleanField(default=False)
        content = TextField()
        result = CharField(max_length=200, default="")
        next_at = DateField(null=True)
        grade = CharField(max_length=2, null=True)
        corrects = ForeignKeyField("self", null=True, on_delete="RESTRICT")
        created_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "follow_up"
            indexes = ((("customer", "created_at"), False),)

    db.create_tables([FollowUp])
