"""The questions villa offices ask (issue 14): where the customer lives and works, occupation, family,
how many homes bought before, and what draws them and holds them back (several of each).

Option lists are settings (villa.questions); the answers are plain text columns, "" when not asked.
"""

from peewee import CharField

COLUMNS = (
    ("home_area", 40),
    ("work_area", 40),
    ("occupation", 40),
    ("family_structure", 40),
    ("purchase_count", 40),
    ("concerns", 200),
    ("objections", 200),
)


def up(migrator, db):
    migrator.migrate(
        *(
            migrator.add_column("customer", name, CharField(max_length=size, default=""))
            for name, size in COLUMNS
        )
    )
