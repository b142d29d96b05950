"""尾号 search, and the scorecard by owner.

customer.phone_last4: the phone's last four digits, which every masked phone shows anyway (138****8000),
kept in clear so the list finds "王 8000". Filled here from the encrypted phones (the keys are loaded
before migrations run: villa.instance.initialise), in batches along the id; anonymised customers get ''.

The scorecard now counts the customers a rep owns (desk-registered walk-ins too) for registrations,
completeness and review decisions: an index led by the owner holds the checklist's columns, as the one
led by registered_by (0007) did for what the rep typed.
"""

from peewee import CharField, IntegerField, Model

from villa.crypto import EncryptedField

BATCH = 2000
LAST4 = ("customer", ("phone_last4",), "customer_phone_last4")
OWNER_CHECKLIST = (
    "customer",
    (
        "owner_id",
        "registered_at",
        "name",
        "phone_index",
        "channel_id",
        "gender",
        "age_band",
        "unit_type",
        "area_band",
        "budget",
        "purpose",
        "hukou_local",
        "social_insurance_months",
        "homes_owned",
    ),
    "customer_owner_registered_checklist",
)


def up(migrator, db):
    class Customer(Model):
        id = IntegerField(primary_key=True)
        phone = EncryptedField()
        phone_last4 = CharField(max_length=4, default="")

        class Meta:
            database = db
            table_name = "customer"

    migrator.migrate(migrator.add_column("customer", "phone_last4", CharField(max_length=4, default="")))
    last = 0
    while True:
        rows = list(
            Customer.select(Customer.id, Customer.phone)
            .where(Customer.id > last, Customer.phone.is_null(False))
            .order_by(Customer.id)
            .limit(BATCH)
        )
        if not rows:
            break
        with db.atomic():
            for row in rows:
                digits = "".join(ch for ch in row.phone or "" if ch.isdigit())
                if len(digits) >= 4:
                    Customer.update(phone_last4=digits[-4:]).where(Customer.id == row.id).execute()
        last = rows[-1].id
    migrator.migrate(
        *(
            migrator.add_index(table, columns, False, name=name)
            for table, columns, name in (LAST4, OWNER_CHECKLIST)
        )
    )


def down(migrator, db):
    migrator.migrate(
        *(migrator.drop_index(table, name) for table, _columns, name in (LAST4, OWNER_CHECKLIST)),
        migrator.drop_column("customer", "phone_last4"),
    )
