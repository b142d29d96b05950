"""Key rotation: a new data key, and every encrypted value re-encrypted with it, resumably."""

from villa.crypto import EncryptedField, keyring
from villa.db import db
from villa.instance import write_key_check
from villa.models import ALL_MODELS, Setting

PROGRESS_KEY = "key_rotation"


def encrypted_fields():
    """(model, [encrypted fields]) for every model that stores ciphertext."""
    for model in ALL_MODELS:
        fields = [f for f in model._meta.sorted_fields if isinstance(f, EncryptedField)]
        if fields:
            yield model, fields


def rotate_data_key(batch=500, progress=None):
    """Start a rotation, or finish one that was interrupted; returns (version, rows rewritten)."""
    ring = keyring()
    with db.connection_context():
        state = Setting.read(PROGRESS_KEY)
        if state is None or state["version"] != ring.current:
            ring.add_data_key()
            state = {"version": ring.current, "done": {}}
            Setting.write(PROGRESS_KEY, state)
            write_key_check()
        total = sum(model.select().count() for model, _ in encrypted_fields())
        rewritten = 0
        for model, fields in encrypted_fields():
            last_id = state["done"].get(model._meta.table_name, 0)
            while True:
                with db.atomic():
                    rows = list(model.select().where(model.id > last_id).order_by(model.id).limit(batch))
                    for row in rows:
                        values = {f: getattr(row, f.name) for f in fields}
                        model.update(values).where(model.id == row.id).execute()
                    if rows:
                        last_id = rows[-1].id
                        state["done"][model._meta.table_name] = last_id
                        Setting.write(PROGRESS_KEY, state)
                rewritten += len(rows)
                if progress:
                    progress(rewritten, total)
                if len(rows) < batch:
                    break
        Setting.delete().where(Setting.key == PROGRESS_KEY).execute()
    return ring.current, rewritten
