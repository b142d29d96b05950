"""The migrations build exactly the schema the models describe, on either database."""

from playhouse.schema_diff import diff_models

from villa.db import db
from villa.models import ALL_MODELS


def test_migrated_schema_matches_the_models(app):
    with db.connection_context():
        diff = diff_models(db.obj, list(ALL_MODELS))
    assert not diff, f"models and migrations differ; write a migration:\n{diff}"
