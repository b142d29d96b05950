"""Running it for years: job runs (`villa daily` and its steps), the incident register, and the
confidentiality pledge with its versions and acceptances.

Frozen copies of the models as they were. The setting `backups_kept` is gone: daily, weekly and
monthly copies are kept instead (villa.backup.retained).
"""

from peewee import CharField, DateTimeField, ForeignKeyField, Model, TextField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class OutboxMessage(Model):
        class Meta:
            database = db
            table_name = "outbox_message"

    class JobRun(Model):
        name = CharField(max_length=40)
        run = ForeignKeyField("self", null=True, on_delete="CASCADE")
        started_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        outcome = CharField(max_length=10, default="running")
        counts = TextField(default="{}")
        summary = CharField(max_length=300, default="")
        error = CharField(max_length=300, default="")

        class Meta:
            database = db
            table_name = "job_run"
            indexes = ((("name", "started_at"), False),)

    class Incident(Model):
        what = TextField()
        found_at = DateTimeField()
        suspected_scope = TextField(default="")
        opened_by = ForeignKeyField(User, on_delete="RESTRICT")
        opened_at = DateTimeField(index=True)
        message_template = CharField(max_length=500, default="")
        measures = TextField(default="")
        reported_at = DateTimeField(null=True)
        reported_to = CharField(max_length=200, default="")
        responsible = CharField(max_length=200, default="")
        closed_at = DateTimeField(null=True)
        closed_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")

        class Meta:
            database = db
            table_name = "incident"

    class IncidentCustomer(Model):
        incident = ForeignKeyField(Incident, on_delete="CASCADE")
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        source = CharField(max_length=20)
        added_at = DateTimeField()
        message = ForeignKeyField(OutboxMessage, null=True, on_delete="SET NULL")

        class Meta:
            database = db
            table_name = "incident_customer"
            indexes = ((("incident", "customer"), False),)

    class PledgeText(Model):
        text = TextField()
        created_at = DateTimeField()
        created_by = ForeignKeyField(User, null=True, on_delete="RESTRICT")

        class Meta:
            database = db
            table_name = "pledge_text"

    class PledgeAcceptance(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        pledge = ForeignKeyField(PledgeText, on_delete="RESTRICT")
        accepted_at = DateTimeField(index=True)
        ip = CharField(max_length=45, default="")

        class Meta:
            database = db
            table_name = "pledge_acceptance"
            indexes = ((("user", "pledge", "accepted_at"), False),)

    db.create_tables([JobRun, Incident, IncidentCustomer, PledgeText, PledgeAcceptance])
    db.execute_sql("DELETE FROM setting WHERE key = 'backups_kept'")


def down(migrator, db):
    for table in ("pledge_acceptance", "pledge_text", "incident_customer", "incident", "job_run"):
        migrator.migrate(migrator.drop_table(table))
