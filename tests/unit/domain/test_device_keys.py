"""The row-key encoding of device ids (shared/repositories/device_keys.py is pure, so it is tested here)."""
import random
import string

import pytest

from shared.domain.errors import InvalidField
from shared.repositories.device_keys import (DEVICE_KEYS_END, PROGRESS_ROW_KEY, device_id_from_row_key,
                                             device_row_key)

ALPHABET = "ABCZabcz0189-.+%_#*?!(),:=@$'"
FORBIDDEN_IN_KEYS = set("/\\#?") | {chr(code) for code in range(0x20)} | {chr(code) for code in range(0x7F, 0xA0)}


def random_ids(count: int, seed: int) -> list[str]:
    chooser = random.Random(seed)
    return ["".join(chooser.choice(ALPHABET) for _ in range(chooser.randint(1, 6))) for _ in range(count)]


@pytest.mark.parametrize("device_id", ["plain-1", "a#b", "a?b", "100%", "O'Brien", "%'#?", "''", "%%", "'%",
                                       "x" * 128, "!$(),:=@*+._-"])
def test_round_trip_and_no_forbidden_character(device_id):
    key = device_row_key(device_id)
    assert device_id_from_row_key(key) == device_id
    assert not FORBIDDEN_IN_KEYS & set(key) and "%" not in key and "'" not in key


def every_id_up_to_two_characters() -> list[str]:
    every = string.ascii_letters + string.digits + "-.+%_#*?!(),:=@$'"
    return list(every) + [first + second for first in every for second in every]


def test_order_is_preserved():
    ids = sorted(set(every_id_up_to_two_characters() + random_ids(5000, seed=7)))
    keys = [device_row_key(device_id) for device_id in ids]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_every_device_key_sorts_before_the_progress_row():
    keys = [device_row_key(device_id) for device_id in random_ids(2000, seed=3) + ["z" * 128]]
    assert all(key < DEVICE_KEYS_END <= PROGRESS_ROW_KEY for key in keys)


@pytest.mark.parametrize("bad", ["", "a/b", "a b", "é", "x" * 129, "a&b", 'a"b'])
def test_only_valid_device_ids_are_encoded(bad):
    with pytest.raises(InvalidField):
        device_row_key(bad)
