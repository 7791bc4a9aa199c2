import pytest

from shared.domain.batching import DeviceBatch, batches_of


def test_ids_are_cut_into_ranges_of_at_most_98():
    ids = [f"d{index:04}" for index in range(200)]
    batches = list(batches_of(ids))
    assert [batch.size for batch in batches] == [98, 98, 4]
    assert batches[0] == DeviceBatch("d0000", "d0097", 98)
    assert batches[2] == DeviceBatch("d0196", "d0199", 4)
    assert all(batch.contains(device) for batch in batches[1:2] for device in ids[98:196])
    assert not batches[1].contains("d0097")


def test_exact_multiples_and_empty_input():
    assert [batch.size for batch in batches_of([f"d{i}" for i in range(6)], 3)] == [3, 3]
    assert list(batches_of([])) == []


def test_batches_stream_from_a_generator():
    generated = (f"d{index:06}" for index in range(100_000))
    first = next(batches_of(generated, 10))
    assert first == DeviceBatch("d000000", "d000009", 10)


@pytest.mark.parametrize("ids", [["b", "a"], ["a", "a"]])
def test_unsorted_or_repeated_ids_are_refused(ids):
    with pytest.raises(ValueError):
        list(batches_of(ids))


@pytest.mark.parametrize("size", [0, 99])
def test_size_is_bounded_by_a_transaction(size):
    with pytest.raises(ValueError):
        list(batches_of(["a"], size))
