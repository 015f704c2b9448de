"""Identity normalisation and keyed references."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keepword.errors import InputError
from keepword.identities import IdentityHasher, normalise


def test_email_is_lower_cased_and_trimmed() -> None:
    assert normalise("email", "  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"


@pytest.mark.parametrize("raw", ["+33 6 12 34 56 78", "+33612345678", "0033 6 12 34 56 78"])
def test_phones_become_e164(raw: str) -> None:
    assert normalise("phone", raw, phone_region="FR") == "+33612345678"


@pytest.mark.parametrize(("kind", "raw"), [("email", "not-an-address"), ("phone", "12"),
                                           ("email", "  ")])
def test_invalid_identity_never_echoes_the_value(kind: str, raw: str) -> None:
    with pytest.raises(InputError) as info:
        normalise(kind, raw)
    if raw.strip():
        assert raw not in str(info.value)


def test_keyed_refs_depend_on_key_and_kind() -> None:
    a, b = IdentityHasher(b"a" * 32), IdentityHasher(b"b" * 32)
    assert a.ref("email", "x@y.z") == a.ref("email", "x@y.z")
    assert a.ref("email", "x@y.z") != b.ref("email", "x@y.z")
    assert a.ref("email", "x@y.z") != a.ref("username", "x@y.z")
    assert "x@y.z" not in a.ref("email", "x@y.z")


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        IdentityHasher(b"short")


@given(st.emails())
def test_email_normalisation_is_idempotent(email: str) -> None:
    once = normalise("email", email)
    assert normalise("email", once) == once


@given(st.binary(min_size=32, max_size=200), st.text(max_size=80), st.text(max_size=80))
def test_refs_and_pseudonyms_are_hmac_sha256(key: bytes, kind: str, value: str) -> None:
    """The hasher's precomputed HMAC states give exactly RFC 2104 HMAC-SHA256, for keys
    shorter and longer than the hash's block: refs stored by any version still match."""
    hasher = IdentityHasher(key)
    mac = hmac.digest(key, f"{kind}:{value}".encode(), hashlib.sha256).hex()
    assert hasher.ref(kind, value) == "hmac:" + mac
    assert hasher.pseudonym(value, length=20) == hmac.digest(
        key, value.encode(), hashlib.sha256).hex()[:20]
