"""Data governance: password history, merge log (undoable merges), Excel import runs.

Frozen copies of the models as they were; encrypted columns are plain BLOBs here.
"""

from peewee import (
    BlobField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class ImportRun(Model):
        filename = CharField(max_length=200)
        file_sha256 = CharField(index=True, max_length=64)
        dry_run = BooleanField(default=True)
        started_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        started_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        total_rows = IntegerField(default=0)
        imported = IntegerField(default=0)
        duplicates = IntegerField(default=0)
        invalid = IntegerField(default=0)
        report = BlobField(null=True)

        class Meta:
            database = db
            table_name = "import_run"

    db.create_tables([ImportRun])

    class MergeLog(Model):
        survivor = ForeignKeyField(Customer, on_delete="RESTRICT")
        merged_id = IntegerField(index=True)
        snapshot = BlobField()
        moved = TextField()
        merged_by = ForeignKeyField(User, on_delete="RESTRICT")
        at = DateTimeField()
        undone_at = DateTimeField(null=True)
        undone_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")

        class Meta:
            database = db
            table_name = "merge_log"

    db.create_tables([MergeLog])

    class PasswordHistory(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        password_hash = CharField(max_length=200)
        at = DateTimeField()

        class Meta:
            database = db
            table_name = "password_history"

    db.create_tables([PasswordHistory])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("password_history"))
    migrator.migrate(migrator.drop_table("merge_log"))
    migrator.migrate(migrator.drop_table("import_run"))
