"""Initial schema: users, channels, customers, audit and access logs, login failures, settings.

Frozen copies of the models as they were; encrypted columns are plain BLOBs here (the
ciphertext format lives in villa/crypto.py). Timestamps are always set by the application.
"""

from peewee import (
    BlobField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    class User(Model):
        username = CharField(unique=True, max_length=40)
        display_name = CharField(max_length=40)
        role = CharField(index=True, max_length=12)
        manager = ForeignKeyField("self", null=True, on_delete="SET NULL")
        password_hash = CharField(max_length=200)
        session_version = IntegerField(default=1)
        must_change_password = BooleanField(default=False)
        password_changed_at = DateTimeField()
        failed_logins = IntegerField(default=0)
        locked_until = DateTimeField(null=True)
        last_login_at = DateTimeField(null=True)
        active = BooleanField(default=True)
        is_demo = BooleanField(default=False)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "user"

    db.create_tables([User])

    class Channel(Model):
        code = CharField(unique=True, max_length=30)
        name = CharField(max_length=40)
        kind = CharField(max_length=12, default="direct")
        protection_days = IntegerField(null=True)
        active = BooleanField(default=True)
        sort_order = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "channel"

    db.create_tables([Channel])

    class Customer(Model):
        name = CharField(index=True, max_length=40)
        gender = CharField(max_length=1, default="U")
        age_band = CharField(max_length=8, default="")
        phone = BlobField()
        phone_index = CharField(unique=True, max_length=64)
        alt_phone = BlobField(null=True)
        alt_phone_index = CharField(index=True, null=True, max_length=64)
        id_type = CharField(max_length=10, default="resident")
        id_number = BlobField(null=True)
        id_index = CharField(unique=True, null=True, max_length=64)
        address = BlobField(null=True)
        wechat = BlobField(null=True)
        channel = ForeignKeyField(Channel, on_delete="RESTRICT")
        visit_type = CharField(max_length=5, default="visit")
        referrer_name = CharField(max_length=40, default="")
        broker_agency = CharField(max_length=60, default="")
        broker_name = CharField(max_length=40, default="")
        unit_type = CharField(max_length=30, default="")
        area_band = CharField(max_length=20, default="")
        budget = CharField(max_length=20, default="")
        purpose = CharField(max_length=12, default="")
        payment_method = BlobField(null=True)
        asset_band = BlobField(null=True)
        credit_notes = BlobField(null=True)
        grade = CharField(index=True, max_length=2, default="C")
        competing_projects = CharField(max_length=200, default="")
        stage = CharField(index=True, max_length=10, default="registered")
        lost_reason = CharField(max_length=200, default="")
        notes = TextField(default="")
        hukou_local = BooleanField(null=True)
        social_insurance_months = IntegerField(null=True)
        homes_owned = IntegerField(null=True)
        owner = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        protected_until = DateTimeField(index=True, null=True)
        in_public_pool = BooleanField(index=True, default=False)
        registered_by = ForeignKeyField(User, on_delete="RESTRICT")
        registered_at = DateTimeField(index=True)
        review_status = CharField(index=True, max_length=16, default="pending_first")
        consent_at = DateTimeField()
        notice_version = CharField(max_length=20)
        sensitive_consent_at = DateTimeField(null=True)
        next_followup_on = DateField(index=True, null=True)
        last_activity_at = DateTimeField(index=True)
        archived_at = DateTimeField(null=True)
        anonymised_at = DateTimeField(null=True)
        is_demo = BooleanField(default=False)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "customer"
            indexes = ((("owner", "registered_at"), False),)

    db.create_tables([Customer])

    class AccessLog(Model):
        at = DateTimeField(index=True)
        actor = ForeignKeyField(User, on_delete="RESTRICT")
        action = CharField(max_length=20)
        customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL")
        fields = CharField(max_length=200)
        ip = CharField(max_length=45, default="")

        class Meta:
            database = db
            table_name = "access_log"

    db.create_tables([AccessLog])

    class AuditLog(Model):
        at = DateTimeField(index=True)
        actor = ForeignKeyField(User, null=True, on_delete="RESTRICT")
        action = CharField(index=True, max_length=40)
        customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL")
        target = CharField(max_length=60, default="")
        changes = TextField(default="{}")

        class Meta:
            database = db
            table_name = "audit_log"

    db.create_tables([AuditLog])

    class LoginFailure(Model):
        ip = CharField(index=True, max_length=45)
        at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "login_failure"

    db.create_tables([LoginFailure])

    class Setting(Model):
        key = CharField(primary_key=True, max_length=60)
        value = TextField()

        class Meta:
            database = db
            table_name = "setting"

    db.create_tables([Setting])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("setting"))
    migrator.migrate(migrator.drop_table("login_failure"))
    migrator.migrate(migrator.drop_table("audit_log"))
    migrator.migrate(migrator.drop_table("access_log"))
    migrator.migrate(migrator.drop_table("customer"))
    migrator.migrate(migrator.drop_table("channel"))
    migrator.migrate(migrator.drop_table("user"))
