"""Staff notifications: the inbox, the outbox of deliveries by email or group robot, each user's
preferences, and settings whose values are secret (the mail password, the group robots' addresses).

Frozen copies of the models as they were; the encrypted column is a plain BLOB here.
"""

from peewee import BlobField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Customer(Model):
        class Meta:
            database = db
            table_name = "customer"

    class Notification(Model):
        recipient = ForeignKeyField(User, on_delete="CASCADE")
        kind = CharField(max_length=20)
        key = CharField(max_length=80, unique=True)
        details = TextField(default="{}")
        customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        read_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "notification"
            indexes = ((("recipient", "read_at"), False), (("recipient", "id"), False))

    class NotificationDelivery(Model):
        notification = ForeignKeyField(Notification, on_delete="CASCADE")
        channel = CharField(max_length=10)
        status = CharField(max_length=10, default="queued")
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField()
        claimed_until = DateTimeField(null=True)
        sent_at = DateTimeField(null=True)
        error = CharField(max_length=200, default="")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "notification_delivery"
            indexes = ((("notification", "channel"), True), (("status", "next_attempt_at"), False))

    class NotificationPreference(Model):
        user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
        email = CharField(max_length=120, default="")
        wecom_user_id = CharField(max_length=64, default="")
        choices = TextField(default="{}")
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "notification_preference"

    class SecretSetting(Model):
        key = CharField(max_length=60, unique=True)
        value = BlobField()

        class Meta:
            database = db
            table_name = "secret_setting"

    db.create_tables([Notification, NotificationDelivery, NotificationPreference, SecretSetting])


def down(migrator, db):
    for table in ("secret_setting", "notification_preference", "notification_delivery", "notification"):
        migrator.migrate(migrator.drop_table(table))
