"""Front desk: visits and calls, disputes, the walk-in rotation, sales materials handed over.

Frozen copies of the models as they were when this migration was written.
"""

from peewee import BooleanField, CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, Model


def up(migrator, db):
    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Dispute(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        claimant = ForeignKeyField(User, on_delete="RESTRICT")
        owner = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        reason = CharField(max_length=500)
        opened_at = DateTimeField(index=True)
        status = CharField(index=True, max_length=10, default="open")
        decision = CharField(max_length=20, default="")
        decision_note = CharField(max_length=500, default="")
        decided_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        decided_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "dispute"

    db.create_tables([Dispute])

    class Material(Model):
        name = CharField(max_length=60)
        filename = CharField(max_length=120, default="")
        content_type = CharField(max_length=60, default="")
        active = BooleanField(default=True)
        sort_order = IntegerField(default=0)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "material"

    db.create_tables([Material])

    class MaterialGiven(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        material = ForeignKeyField(Material, on_delete="RESTRICT")
        given_at = DateTimeField()
        given_by = ForeignKeyField(User, on_delete="RESTRICT")

        class Meta:
            database = db
            table_name = "material_given"

    db.create_tables([MaterialGiven])

    class RotationEntry(Model):
        day = DateField(index=True)
        rep = ForeignKeyField(User, on_delete="RESTRICT")
        position = IntegerField()
        status = CharField(max_length=10, default="available")
        checked_in_at = DateTimeField()
        assigned_count = IntegerField(default=0)
        last_assigned_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "rotation_entry"
            indexes = ((("day", "rep"), True),)

    db.create_tables([RotationEntry])

    class Visit(Model):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        kind = CharField(max_length=5, default="visit")
        at = DateTimeField(index=True)
        received_by = ForeignKeyField(User, on_delete="RESTRICT")
        rep = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        is_first = BooleanField(default=False)
        via_rotation = BooleanField(default=False)
        note = CharField(max_length=200, default="")
        acknowledged_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "visit"
            indexes = ((("rep", "acknowledged_at"), False),)

    db.create_tables([Visit])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("visit"))
    migrator.migrate(migrator.drop_table("rotation_entry"))
    migrator.migrate(migrator.drop_table("material_given"))
    migrator.migrate(migrator.drop_table("material"))
    migrator.migrate(migrator.drop_table("dispute"))
