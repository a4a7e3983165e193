import os

import pytest

from mdm.keyring import Keyring, UnwrapError


@pytest.fixture
def ring():
    return Keyring(current=os.urandom(32))


def test_it_round_trips_a_secret_bound_to_its_context(ring):
    blob = ring.wrap(b"s" * 32, context="container-key|k1|1")
    assert b"s" * 32 not in blob
    assert ring.unwrap(blob, context="container-key|k1|1") == b"s" * 32


def test_it_refuses_another_context(ring):
    blob = ring.wrap(b"secret", context="container-key|k1|1")
    with pytest.raises(UnwrapError):
        ring.unwrap(blob, context="container-key|k1|2")


def test_it_refuses_tampered_bytes(ring):
    blob = bytearray(ring.wrap(b"secret", context="c"))
    blob[-1] ^= 1
    with pytest.raises(UnwrapError):
        ring.unwrap(bytes(blob), context="c")


def test_it_refuses_a_blob_of_an_unknown_kek(ring):
    blob = Keyring(current=os.urandom(32)).wrap(b"secret", context="c")
    with pytest.raises(UnwrapError, match="does not have"):
        ring.unwrap(blob, context="c")


def test_a_previous_kek_still_unwraps_and_rewrap_moves_to_the_current_one():
    old, new = os.urandom(32), os.urandom(32)
    blob = Keyring(current=old).wrap(b"secret", context="c")
    rotating = Keyring(current=new, previous=(old,))
    assert rotating.needs_rewrap(blob)
    assert rotating.unwrap(blob, context="c") == b"secret"
    moved = rotating.rewrap(blob, context="c")
    assert not rotating.needs_rewrap(moved)
    assert Keyring(current=new).unwrap(moved, context="c") == b"secret"
    assert rotating.rewrap(moved, context="c") == moved
