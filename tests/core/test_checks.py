"""The validators: every valid value is accepted and normalized like Python indexing does; every
invalid one is refused with a message that names the value and the fix."""

import numpy as np
import pytest
import torch

from interplib.core.checks import (
    OutOfRange,
    check_head,
    check_index,
    check_layer,
    check_position,
    check_token,
    check_token_ids,
)


@pytest.mark.parametrize("n", [1, 4])
def test_check_index_agrees_with_list_indexing_on_every_integer_near_the_range(n):
    items = list(range(n))
    for value in range(-n - 3, n + 3):
        try:
            expected = items[value]
        except IndexError:
            with pytest.raises(OutOfRange, match=f"layer={value} is out of range"):
                check_index(value, n, "layer")
        else:
            assert check_index(value, n, "layer") == expected


def test_without_negative_only_0_to_n_minus_1_are_indices():
    assert [check_index(v, 3, "head", negative=False) for v in range(3)] == [0, 1, 2]
    with pytest.raises(
        OutOfRange, match=r"head=-1 is out of range.*use an integer in 0..2$"
    ):
        check_index(-1, 3, "head", negative=False)


@pytest.mark.parametrize(
    "value", [np.int64(2), np.int32(-2), torch.tensor(2), torch.tensor(-2)]
)
def test_numpy_and_0d_torch_integers_are_indices(value):
    index = check_index(value, 4, "layer")
    assert index == [0, 1, 2, 3][int(value)] == 2 and type(index) is int


@pytest.mark.parametrize(
    "value",
    [1.0, 1.5, "1", None, np.float64(1.0), torch.tensor(1.0)],
)
def test_non_integers_are_refused_naming_the_value_and_the_fix(value):
    with pytest.raises(OutOfRange) as err:
        check_index(value, 4, "layer")
    message = str(err.value)
    assert message.startswith(f"layer={value!r} is out of range")
    assert "use an integer in 0..3 (or -1 for the last)" in message


def test_out_of_range_names_the_size_and_the_fix():
    with pytest.raises(
        OutOfRange,
        match=r"^layer=4 is out of range: the model has 4 layers; "
        r"use an integer in 0..3 \(or -1 for the last\)$",
    ):
        check_layer(4, 4)
    with pytest.raises(
        OutOfRange, match="the model has 1 head; use an integer in 0..0$"
    ):
        check_head(1, 1)


def test_out_of_range_is_both_an_index_error_and_a_value_error():
    for kind in (IndexError, ValueError):
        with pytest.raises(kind):
            check_layer(9, 2)


def test_layers_count_from_the_end_and_heads_do_not():
    assert check_layer(-1, 3) == 2 and check_layer(-3, 3) == 0
    with pytest.raises(OutOfRange, match="layer=-1"):
        check_layer(-1, 3, negative=False)
    assert check_head(2, 3) == 2
    with pytest.raises(OutOfRange, match="head=-1"):
        check_head(-1, 3)


def test_check_position_agrees_with_list_indexing_for_ints_and_tensors():
    n = 5
    positions = list(range(n))
    valid = list(range(-n, n))
    for p in valid:
        result = check_position(p, n)
        assert result.dtype == torch.long and result.ndim == 0
        assert int(result) == positions[p]
    got = check_position(torch.tensor([[-1, 0], [4, -5]]), n)
    assert got.tolist() == [[positions[-1], 0], [4, positions[-5]]]


@pytest.mark.parametrize("bad", [5, -6, torch.tensor([0, 7, -9])])
def test_check_position_names_the_first_bad_position_and_the_range(bad):
    first = bad if isinstance(bad, int) else 7
    with pytest.raises(
        OutOfRange,
        match=rf"^position {first} is out of range for a prompt of 5 tokens; "
        r"use 0..4 or -5..-1 \(the next-token prediction of the whole prompt is at -1\)$",
    ):
        check_position(bad, 5)


def test_check_token_takes_an_id_a_0d_tensor_or_a_one_token_string():
    table = {"cat": 3, "dog": [4], "owl": torch.tensor([5])}
    resolve = table.__getitem__
    assert check_token(2, 7) == 2 and check_token(torch.tensor(6), 7) == 6
    assert [check_token(w, 7, resolve) for w in table] == [3, 4, 5]
    assert all(type(check_token(w, 7, resolve)) is int for w in table)


def test_a_string_that_is_not_exactly_one_token_is_refused_with_the_fix():
    resolve = {"ice cream": [4, 5], "": []}.__getitem__
    with pytest.raises(
        ValueError,
        match=r"'ice cream' is not a single token: it splits into 2 tokens \[4, 5\]; "
        r"pick a word that is one token, or pass its id",
    ):
        check_token("ice cream", 7, resolve)
    with pytest.raises(ValueError, match="'' is not a single token: it splits into 0"):
        check_token("", 7, resolve)
    with pytest.raises(
        ValueError, match="unknown token 'zebra'.*pick a word that is one token"
    ):
        check_token("zebra", 7, resolve)
    with pytest.raises(ValueError, match="token 'cat' is a string: pass resolve="):
        check_token("cat", 7)


def test_a_resolver_raising_value_or_index_errors_means_unknown_too():
    def resolve(word):
        raise IndexError("no such word")

    with pytest.raises(ValueError, match="unknown token 'x'.*no such word"):
        check_token("x", 7, resolve)


@pytest.mark.parametrize("token", [7, -1, torch.tensor(9), "big"])
def test_token_ids_outside_the_vocabulary_are_refused(token):
    with pytest.raises(OutOfRange, match=r"outside the vocabulary \(0 … 6\)"):
        check_token(token, 7, {"big": 12}.__getitem__)


def test_check_token_ids_accepts_a_long_batch_inside_every_bound():
    tokens = torch.tensor([[0, 6, 3], [1, 2, 5]])
    assert check_token_ids(tokens) is None
    assert check_token_ids(tokens, d_vocab=7, n_ctx=3, min_len=3) is None


@pytest.mark.parametrize(
    "tokens, got",
    [
        (
            torch.tensor([[1, 2]], dtype=torch.int32),
            r"a torch.int32 tensor of shape \(1, 2\)",
        ),
        (torch.tensor([[1.0, 2.0]]), r"a torch.float32 tensor of shape \(1, 2\)"),
        (torch.tensor([1, 2]), r"a torch.int64 tensor of shape \(2,\)"),
        ([[1, 2]], "list"),
        (np.array([[1, 2]]), "ndarray"),
    ],
)
def test_wrong_types_and_shapes_name_what_was_given_and_the_conversion(tokens, got):
    with pytest.raises(
        ValueError,
        match=rf"^prompt must be a LongTensor \[batch, pos\] of token ids, got {got}: "
        r"convert with tokens.long\(\), add a batch axis with tokens\[None\]$",
    ):
        check_token_ids(tokens, name="prompt")


def test_empty_short_and_long_batches_name_the_fix():
    with pytest.raises(ValueError, match=r"shape \(0, 3\): need at least one sequence"):
        check_token_ids(torch.zeros(0, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(2, 1\): need .* of ≥ 2 tokens"):
        check_token_ids(torch.zeros(2, 1, dtype=torch.long), min_len=2)
    with pytest.raises(
        ValueError,
        match=r"sequences of 5 tokens but the model's n_ctx=4: truncate to tokens\[:, :4\]",
    ):
        check_token_ids(torch.zeros(1, 5, dtype=torch.long), n_ctx=4)


@pytest.mark.parametrize("low, high", [(-1, 3), (0, 7), (-2, 9)])
def test_ids_outside_the_vocabulary_name_the_range_found_and_the_tokenizer(low, high):
    tokens = torch.tensor([[low, 1, high]])
    with pytest.raises(
        ValueError,
        match=rf"tokens holds token ids {low}..{high}, outside the vocabulary 0..6: "
        r"encode with the model's tokenizer",
    ):
        check_token_ids(tokens, d_vocab=7)
