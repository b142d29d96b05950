"""Key rotation: a new data key or blind-index key, and every stored value brought onto it.

A rotation is a series of steps (`rotation_step`), each one batch of rows in one transaction,
with its progress in the Setting "key_rotation". The command line loops over the steps; the admin
page runs one step a request. Either picks up where an interrupted rotation stopped.
"""

import json
import time

from peewee import IntegrityError

from villa import crypto
from villa.crypto import EncryptedField, looks_like_index
from villa.db import db, is_sqlite, write_transaction
from villa.instance import write_key_check
from villa.models import ALL_MODELS, AuditLog, Broker, Customer, Report, Setting, User
from villa.reports import open_key_text

PROGRESS_KEY = "key_rotation"
KINDS = ("data", "index")
MAX_CONFLICTS = 1000
# Re-indexing waits until every worker has read the new index key (they look at the key file
# every RELOAD_SECONDS): a worker still on the old key alone would miss re-indexed customers.
INDEX_GRACE_SECONDS = 2 * crypto.RELOAD_SECONDS + 1
# (value field, its blind-index field, index kind), by table
INDEXED = {
    Customer: (
        (Customer.phone, Customer.phone_index, "phone"),
        (Customer.alt_phone, Customer.alt_phone_index, "phone"),
        (Customer.id_number, Customer.id_index, "id"),
    ),
    Broker: ((Broker.phone, Broker.phone_index, "phone"),),
    Report: ((Report.phone, Report.phone_index, "phone"),),
}
# An open 报备's open_key is the index of its 前三后四 and surname (villa.reports): re-keyed too.
OPEN_KEY_FIELDS = (Report.open_key, Report.phone_mask, Report.surname)


class RotationBusy(Exception):
    """A rotation of the other kind is still running: it must finish first."""

    def __init__(self, kind: str):
        super().__init__(f"a {kind}-key rotation is in progress: finish it first")
        self.kind = kind


def encrypted_fields():
    """(model, [encrypted fields]) for every model that stores ciphertext."""
    for model in ALL_MODELS:
        fields = [f for f in model._meta.sorted_fields if isinstance(f, EncryptedField)]
        if fields:
            yield model, fields


def _tables(kind: str):
    """(model, fields to rewrite) in the order a rotation walks them."""
    if kind == "index":
        tables = [
            (model, [field for trio in trios for field in trio[:2]]) for model, trios in INDEXED.items()
        ]
        return [
            (model, [*fields, *OPEN_KEY_FIELDS] if model is Report else fields) for model, fields in tables
        ]
    return list(encrypted_fields())


def rotation_state() -> dict | None:
    """The rotation in progress, or None. Reads the key file again first (another worker may
    have started or finished one)."""
    ring = _fresh_ring()
    state = Setting.read(PROGRESS_KEY)
    if state is None and ring.index_previous is not None:
        # The new index key was saved but the rotation stopped before it was recorded.
        return _new_state("index", ring.index_current, None)
    if state is not None:
        # Rotations interrupted before this version recorded only the version and the cursors.
        state.setdefault("kind", "data")
        state.setdefault("finished", [])
        state.setdefault("rows_done", 0)
        state.setdefault("started", 0)
        state.setdefault("conflicts", [])
        if "rows_total" not in state:
            state["rows_total"] = _count(state["kind"])
    return state


def start_rotation(kind: str, actor: User | None = None) -> dict:
    """Add the new key and record the rotation; one of the same kind already running continues."""
    assert kind in KINDS
    with write_transaction():
        state = _locked_state()
        if state is not None:
            if state["kind"] != kind:
                raise RotationBusy(state["kind"])
            return state
        ring = crypto.keyring()
        version = ring.add_data_key() if kind == "data" else ring.add_index_key()
        write_key_check()
        state = _new_state(kind, version, actor)
        Setting.write(PROGRESS_KEY, state)
    return state


def rotation_step(batch: int = 2000) -> tuple[int, int, bool]:
    """Bring the next `batch` rows onto the new key; (rows done, rows in all, finished)."""
    with write_transaction():
        state = _locked_state()
        if state is None:
            return 0, 0, True
        if state["kind"] == "index" and time.time() - state["started"] < INDEX_GRACE_SECONDS:
            return state["rows_done"], state["rows_total"], False
        left = batch
        for model, fields in _tables(state["kind"]):
            table = model._meta.table_name
            if left == 0 or table in state["finished"]:
                continue
            rows = _next_rows(model, fields, state["done"].get(table, 0), left)
            for row in rows:
                if state["kind"] == "data":
                    _reencrypt(model, fields, row)
                elif not _reindex(model, row) and len(state["conflicts"]) < MAX_CONFLICTS:
                    state["conflicts"].append(row.id)
            if rows:
                state["done"][table] = rows[-1].id
            if len(rows) < left:
                state["finished"].append(table)
            left -= len(rows)
            state["rows_done"] += len(rows)
        finished = len(state["finished"]) == len(_tables(state["kind"]))
        if finished:
            _finish(state)
        else:
            Setting.write(PROGRESS_KEY, state)
    return state["rows_done"], max(state["rows_total"], state["rows_done"]), finished


def rotate_data_key(batch=500, progress=None):
    """Start a rotation, or finish one that was interrupted; returns (version, rows rewritten)."""
    return _run("data", batch, progress)


def rotate_index_key(batch=500, progress=None):
    """Start a blind-index key rotation, or finish an interrupted one; (version, rows re-indexed)."""
    return _run("index", batch, progress)


def _run(kind, batch, progress):
    with db.connection_context():
        state = start_rotation(kind)
        before = last = state["rows_done"]
        while True:
            done, total, finished = rotation_step(batch)
            if progress:
                progress(done, total)
            if finished:
                return state["version"], done - before
            if done == last:
                time.sleep(0.2)  # the grace period before re-indexing
            last = done


def _new_state(kind: str, version: int, actor: User | None) -> dict:
    return {
        "kind": kind,
        "version": version,
        "done": {},  # table → last id rewritten
        "finished": [],
        "rows_done": 0,
        "rows_total": _count(kind),
        "started": time.time(),
        "started_by": actor.id if actor else None,
        "conflicts": [],  # customers whose new index another record already holds
    }


def _count(kind: str) -> int:
    return sum(model.select().count() for model, _ in _tables(kind))


def _fresh_ring() -> crypto.KeyRing:
    ring = crypto.keyring()
    ring.refresh()
    return ring


def _locked_state() -> dict | None:
    """The progress, read under the write lock so two steps never walk the same rows."""
    if not is_sqlite():
        Setting.select().where(Setting.key == PROGRESS_KEY).for_update().execute()
    return rotation_state()


def _next_rows(model, fields, after_id: int, limit: int) -> list:
    query = model.select(model.id, *fields).where(model.id > after_id).order_by(model.id).limit(limit)
    return list(query if is_sqlite() else query.for_update())


def _reencrypt(model, fields, row):
    values = {f: getattr(row, f.name) for f in fields if getattr(row, f.name) is not None}
    if values:
        model.update(values).where(model.id == row.id).execute()


def _reindex(model, row) -> bool:
    """New HMACs for the phone, alternate phone and ID number; placeholders stay as they are.

    False when another record already holds the new index (a duplicate that slipped in): that
    row keeps its old index and is reported, instead of stopping the rotation for good.
    """
    ring = crypto.keyring()
    values = {}
    for value_field, index_field, kind in INDEXED[model]:
        value, old = getattr(row, value_field.name), getattr(row, index_field.name)
        if value and looks_like_index(old):
            new = ring.blind_index(kind, value)
            if new != old:
                values[index_field] = new
    if model is Report and row.open_key:
        values[Report.open_key] = ring.blind_index("report", open_key_text(row.phone_mask, row.surname))
    if not values:
        return True
    try:
        with db.atomic():  # a savepoint: PostgreSQL would otherwise abort the whole batch
            model.update(values).where(model.id == row.id).execute()
    except IntegrityError:
        return False
    return True


def _finish(state: dict):
    ring = crypto.keyring()
    if state["kind"] == "index":
        ring.end_index_rotation()
    write_key_check()
    Setting.remove(PROGRESS_KEY)
    actor = User.get_or_none(User.id == state["started_by"]) if state.get("started_by") else None
    AuditLog.create(
        actor=actor,
        action="keys_rotated",
        target="keys",
        changes=json.dumps({"kind": state["kind"], "version": state["version"], **_conflicts(state)}),
    )


def _conflicts(state: dict) -> dict:
    return {"not_reindexed": state["conflicts"]} if state.get("conflicts") else {}


def key_summary() -> dict:
    """What the admin page shows about the keys (never the keys themselves)."""
    ring = _fresh_ring()
    state = rotation_state()
    return {
        "data_version": ring.current,
        "data_versions": len(ring.data_keys),
        "index_version": ring.index_current,
        "index_versions": len(ring.index_keys),
        "rotation": state,
    }
