"""Protection policy and fair rotation (issue 14).

customer.owned_since: when the current owner got the customer (registration, claim, hand-out,
reassignment); the maximum protection counts from it. customer.previous_owner: who held the customer
when it was released to the pool; they wait out the cooldown before taking it back.
rotation_entry.manual_walk_ins: walk-ins the desk marked by hand ("Took a walk-in") that were not
registered, so 今日接待 counts every walk-in a rep received. rotation_skip: each walk-in given out
of turn, with the reason.

Frozen copies of the models as they were.
"""

from peewee import CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Visit(Model):
        class Meta:
            database = db
            table_name = "visit"

    class RotationSkip(Model):
        day = DateField(index=True)
        at = DateTimeField()
        given_to = ForeignKeyField(User, on_delete="RESTRICT")
        skipped = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        reason = CharField(max_length=20)
        note = CharField(max_length=200, default="")
        actor = ForeignKeyField(User, on_delete="RESTRICT")
        visit = ForeignKeyField(Visit, null=True, on_delete="SET NULL")

        class Meta:
            database = db
            table_name = "rotation_skip"

    previous_owner = ForeignKeyField(User, null=True, field=User.id, on_delete="SET NULL")
    migrator.migrate(
        migrator.add_column("customer", "owned_since", DateTimeField(null=True)),
        migrator.add_column("customer", "previous_owner_id", previous_owner),
        migrator.add_column("rotation_entry", "manual_walk_ins", IntegerField(default=0)),
    )
    db.create_tables([RotationSkip])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("rotation_skip"))
    migrator.migrate(
        migrator.drop_column("customer", "owned_since"),
        migrator.drop_column("customer", "previous_owner_id"),
        migrator.drop_column("rotation_entry", "manual_walk_ins"),
    )
