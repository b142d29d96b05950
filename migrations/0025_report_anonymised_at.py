"""报备 under retention (PIPL): a 报备 keeps the name and phone a broker gave until retention removes
them, with its customer's when the customer is anonymised or erased, or once the retention period
has passed since its validity ended when the person never became a customer (villa.retention).
`anonymised_at` says when; the row stays for the agency report's counts."""

from peewee import DateTimeField


def up(migrator, db):
    migrator.migrate(migrator.add_column("report", "anonymised_at", DateTimeField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("report", "anonymised_at"))
