"""A few queries whose SQL is built once, for the statements nearly every request runs.

Peewee turns a query into SQL in Python, walking every column and condition: 0.3–1 ms for a wide
model, several times what SQLite needs to run the statement. A `Prepared` query is built once per
database dialect with peewee's own `query.sql()`, with `slot()` where each argument goes; a call
runs that SQL with the arguments through `Model.raw()`, so the rows are the query's model instances
as peewee reads them. Only public peewee calls.

A raw read fills in no joined models: a column of a joined table comes back as a plain attribute
of the row, under the alias it was selected with.

    followups = Prepared(lambda: FollowUp.select(FollowUp, User.display_name.alias("author_name"))
                         .join(User, on=(FollowUp.author == User.id)).where(FollowUp.customer == slot()))
    [f.author_name for f in followups.rows(42)]
"""

from peewee import SQL

from villa.db import db


def slot() -> SQL:
    """Where one argument goes, in the order the arguments are given."""
    return SQL(db.obj.param)


class Prepared:
    def __init__(self, build):
        self._build = build
        self._compiled = {}  # database class -> (model, sql): quoting and placeholders differ

    def rows(self, *args):
        """The query's rows (its model's instances) for these arguments."""
        model, sql = self._model_and_sql()
        return model.raw(sql, *args)

    def first(self, *args):
        """The first row, or None."""
        return next(iter(self.rows(*args)), None)

    def row(self, *args) -> tuple | None:
        """The first row as a tuple of its columns (counts of one statement), or None."""
        return self._fetch(args, lambda cursor: cursor.fetchone())

    def tuples(self, *args) -> list[tuple]:
        """Every row as a tuple of its columns: no model instance is built (a few small rows)."""
        return self._fetch(args, lambda cursor: cursor.fetchall())

    def _fetch(self, args, take):
        _, sql = self._model_and_sql()
        cursor = db.execute_sql(sql, args)
        try:
            return take(cursor)
        finally:
            cursor.close()

    def scalar(self, *args):
        """The first column of the first row (a count, an id), or None when there is no row."""
        row = self.row(*args)
        return row[0] if row else None

    def _model_and_sql(self):
        dialect = type(db.obj)
        compiled = self._compiled.get(dialect)
        if compiled is None:
            query = self._build()
            sql, params = query.sql()
            if params:
                # A constant the query carries would be bound in the wrong place among the slots.
                raise TypeError(f"a prepared query takes every value through slot(), not {params!r}")
            names = [  # an aliased subquery has no name to compare: it is not checked
                getattr(column, "column_name", None) or getattr(column, "name", None)
                for column in query.selected_columns
            ]
            names = [name for name in names if name]
            if len(names) != len(set(names)):
                # A raw read keys each value by its column's name: a second `id` would overwrite the first.
                raise TypeError(
                    f"a prepared query selects a joined table's columns with .alias(), not {names!r}"
                )
            compiled = self._compiled[dialect] = (query.model, sql)
        return compiled
