"""Encryption at rest, key rotation, and the blind index."""

import json
import os
import stat

import pytest

from villa import crypto
from villa.crypto import KeyFileError, KeyRing
from villa.identity import normalise_id_number, normalise_phone
from villa.keys import rotate_data_key
from villa.models import Customer

from .conftest import raw_column

PHONE_FORMS = (
    "13800138000",
    "+86 138-0013-8000",
    "0086 138 0013 8000",
    "１３８００１３８０００",
    "138 0013 8000",
)
ID_FORMS = (
    "11010519491231002X",
    "11010519491231002x",
    "110105 19491231 002x",
    "１１０１０５１９４９１２３１００２Ｘ",
)


def test_round_trip_and_ciphertext_carries_version(tmp_path):
    ring = KeyRing.create(tmp_path / "keys.json")
    blob = ring.encrypt("13800138000", b"customer.phone")
    assert b"13800138000" not in blob
    assert ring.key_version(blob) == 1
    assert ring.decrypt(blob, b"customer.phone") == "13800138000"


def test_ciphertext_moved_to_another_column_does_not_decrypt(tmp_path):
    ring = KeyRing.create(tmp_path / "keys.json")
    blob = ring.encrypt("13800138000", b"customer.phone")
    with pytest.raises(KeyFileError):
        ring.decrypt(blob, b"customer.address")


def test_key_file_is_private_and_never_overwritten(tmp_path):
    path = tmp_path / "keys.json"
    KeyRing.create(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(KeyFileError, match="already exists"):
        KeyRing.create(path)


def test_damaged_or_missing_key_file_is_a_clear_error(tmp_path):
    with pytest.raises(KeyFileError, match="not found"):
        KeyRing.load(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(KeyFileError, match="damaged"):
        KeyRing.load(bad)


def test_old_ciphertexts_stay_readable_after_rotation(tmp_path):
    ring = KeyRing.create(tmp_path / "keys.json")
    old = ring.encrypt("上海市浦东新区", b"customer.address")
    assert ring.add_data_key() == 2
    new = ring.encrypt("上海市浦东新区", b"customer.address")
    assert ring.key_version(new) == 2
    reloaded = KeyRing.load(tmp_path / "keys.json")
    assert reloaded.decrypt(old, b"customer.address") == "上海市浦东新区"
    assert reloaded.decrypt(new, b"customer.address") == "上海市浦东新区"


def test_blind_index_is_equal_for_every_written_form(keyring):
    phone_indexes = {keyring.blind_index("phone", normalise_phone(p)) for p in PHONE_FORMS}
    id_indexes = {keyring.blind_index("id", normalise_id_number(i)) for i in ID_FORMS}
    assert len(phone_indexes) == 1
    assert len(id_indexes) == 1
    assert phone_indexes != id_indexes
    assert keyring.blind_index("phone", "+8613800138001") not in phone_indexes


def test_rotation_rewrites_every_customer_and_keeps_them_readable(app, make_customer, make_user):
    rep = make_user("rep")
    customers = [make_customer(owner=rep, address=f"杭州市西湖区{n}号") for n in range(7)]
    before = crypto.keyring().current
    version, rewritten = rotate_data_key(batch=3)
    assert version == before + 1
    assert rewritten == 7
    for original in customers:
        stored = Customer.get_by_id(original.id)
        assert stored.phone == original.phone
        assert stored.address == original.address
        assert crypto.keyring().key_version(raw_column(Customer.phone, original.id)) == version


def test_interrupted_rotation_resumes_without_a_new_key(app, make_customer, make_user):
    rep = make_user("rep")
    for _ in range(5):
        make_customer(owner=rep)

    def stop_after_first_batch(done, total):
        raise KeyboardInterrupt

    before = crypto.keyring().current
    with pytest.raises(KeyboardInterrupt):
        rotate_data_key(batch=2, progress=stop_after_first_batch)
    version, rewritten = rotate_data_key(batch=2)
    assert version == before + 1
    assert rewritten == 3
    keys = json.loads(crypto.keyring().path.read_text())
    assert len(keys["data_keys"]) == before + 1
