"""The reversible key rule: every key MongoDB cannot store becomes safe, and decodes back exactly."""

from __future__ import annotations

import random

import pytest

from analytics.core.mongo_keys import (
    decode_key,
    decode_keys,
    encode_key,
    encode_keys,
    has_unsafe_keys,
    key_needs_encoding,
)


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("points.possible", "points%2Epossible"),
        ("file.names", "file%2Enames"),
        ("$set", "%24set"),
        ("a$b", "a$b"),  # only a leading $ is unsafe
        ("100%", "100%25"),
        ("x%2Ey", "x%252Ey"),  # an original escape-like text stays itself after decoding
        ("nul\x00key", "nul%00key"),
        ("$.%", "%24%2E%25"),
        ("plain_key", "plain_key"),
        ("", ""),
    ],
)
def test_encode_key(key, encoded):
    assert encode_key(key) == encoded
    assert decode_key(encoded) == key
    assert key_needs_encoding(key) == (key != encoded)


def test_encoded_keys_are_safe_for_mongodb():
    for key in ["a.b", "$x", "$", ".", "%", "\x00", "..$$", "$a.b%c\x00"]:
        encoded = encode_key(key)
        assert "." not in encoded and "\x00" not in encoded and not encoded.startswith("$")


def test_round_trip_of_random_keys():
    rng = random.Random(11)
    alphabet = "ab.$%\x0025E4"
    for _ in range(5000):
        key = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))
        assert decode_key(encode_key(key)) == key
    # Encoding is one-to-one: two different keys never share an encoded name.
    keys = {"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6))) for _ in range(5000)}
    assert len({encode_key(key) for key in keys}) == len(keys)


def test_encode_keys_at_every_depth_and_back():
    document = {
        "event": {
            "answer": {"parts": [{"text": "hi"}], "file.names": ["essay.v2.pdf"]},
            "parts": [{"option": {"points.possible": 3}}],
        },
        "$where": 1,
        "value.with.dots": "a.b",  # values never change
    }
    encoded = encode_keys(document)
    assert encoded == {
        "event": {
            "answer": {"parts": [{"text": "hi"}], "file%2Enames": ["essay.v2.pdf"]},
            "parts": [{"option": {"points%2Epossible": 3}}],
        },
        "%24where": 1,
        "value%2Ewith%2Edots": "a.b",
    }
    assert decode_keys(encoded) == document
    assert list(encoded) == ["event", "%24where", "value%2Ewith%2Edots"]  # order kept


def test_encode_keys_returns_the_same_objects_when_nothing_changes():
    safe = {"a": {"b": [1, {"c": 2}]}, "d": "x.y"}
    assert encode_keys(safe) is safe
    mixed = {"keep": {"k": 1}, "change": {"a.b": 1}}
    encoded = encode_keys(mixed)
    assert encoded["keep"] is mixed["keep"]  # only the path to a changed key is copied
    assert mixed == {"keep": {"k": 1}, "change": {"a.b": 1}}  # the input is not modified


@pytest.mark.parametrize(
    "value",
    [
        {"a.b": 1},
        {"x": {"y": [{"$z": 1}]}},
        {"x": [[{"%": 1}]]},
        {"k\x00": 1},
        [{"a": {"b.c": 1}}],
    ],
)
def test_has_unsafe_keys_finds_them_at_any_depth(value):
    assert has_unsafe_keys(value)
    assert encode_keys(value) != value


def test_has_unsafe_keys_is_false_for_safe_documents():
    assert not has_unsafe_keys({"a": "x.y", "b": ["$c", {"d": "%"}], "e": {"f": {"g": 1}}})
    assert not has_unsafe_keys("a.b")


def test_has_unsafe_keys_never_misses_a_key_that_encode_keys_changes():
    rng = random.Random(5)
    alphabet = "ab.$%\x00"

    def random_value(depth: int):
        if depth == 0 or rng.random() < 0.3:
            return rng.choice(["v.1", 2, None, "$x"])
        if rng.random() < 0.5:
            return [random_value(depth - 1) for _ in range(rng.randrange(0, 3))]
        return {
            "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 4))): random_value(depth - 1)
            for _ in range(rng.randrange(0, 4))
        }

    for _ in range(3000):
        value = random_value(4)
        if encode_keys(value) != value:
            assert has_unsafe_keys(value), value


def test_remembered_safe_keys_never_hide_an_unsafe_one(monkeypatch):
    from analytics.core import mongo_keys

    monkeypatch.setattr(mongo_keys, "_SAFE_KEYS", set())
    warm = {"username": "a", "context": {"course_id": "c", "module": {"display_name": "x"}}}
    assert not has_unsafe_keys(warm)
    assert {"username", "context", "course_id", "module", "display_name"} <= mongo_keys._SAFE_KEYS
    # the same known keys, one new unsafe key at depth: found
    assert has_unsafe_keys({**warm, "context": {**warm["context"], "module": {"points.possible": 3}}})
    assert has_unsafe_keys([warm, {"$set": 1}])
    assert not mongo_keys._SAFE_KEYS & {"points.possible", "$set"}


def test_past_the_remembered_limit_keys_are_still_tested(monkeypatch):
    from analytics.core import mongo_keys

    monkeypatch.setattr(mongo_keys, "_SAFE_KEYS", set())
    monkeypatch.setattr(mongo_keys, "SAFE_KEYS_REMEMBERED", 2)
    assert not has_unsafe_keys({f"key{n}": n for n in range(10)})
    assert len(mongo_keys._SAFE_KEYS) == 2
    assert has_unsafe_keys({f"key{n}": n for n in range(10)} | {"a.b": 1})
