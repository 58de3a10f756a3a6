"""Unit tests of the pure rules in backchannel.domain (no database)."""

from __future__ import annotations

import pytest

from backchannel.domain import accounts, conversations, messages
from backchannel.domain.ids import new_id, new_token, token_hash
from backchannel.errors import CODES, BackchannelError


def code_of(fn, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(BackchannelError) as info:
        fn(*args, **kwargs)
    return info.value.code


@pytest.mark.parametrize("raw", ["abc", "Alice", "a.b_c", "x" * 30, "  bob  ", "123"])
def test_valid_handles_are_lowercased(raw: str) -> None:
    assert accounts.normalize_handle(raw) == raw.strip().lower()


@pytest.mark.parametrize("raw", ["ab", "x" * 31, "al ice", "ali-ce", "émile", "", "a\nb", "ab@c"])
def test_invalid_handles(raw: str) -> None:
    assert code_of(accounts.normalize_handle, raw) == "invalid_handle"


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "length"),
        ("password123", "common"),
        ("aaaaaaaaaaaa", "too few distinct characters"),
        ("my-alice-password", "contains the handle"),
        ("x" * 1025 + "yz", "too long"),
    ],
)
def test_weak_passwords(password: str, why: str) -> None:
    assert code_of(accounts.check_password, password, handle="alice", min_length=8) == (
        "weak_password"
    ), why


def test_good_password_passes() -> None:
    accounts.check_password("correct horse battery", handle="alice", min_length=8)


def test_profile_fields_trimmed_and_bounded() -> None:
    assert accounts.clean_text_field("  Al  ", field="n", max_length=5, allow_empty=False) == "Al"
    assert code_of(accounts.clean_text_field, "   ", field="n", max_length=5, allow_empty=False)
    assert code_of(accounts.clean_text_field, "abcdef", field="n", max_length=5, allow_empty=True)
    assert code_of(accounts.clean_text_field, "a\x00b", field="n", max_length=5, allow_empty=True)


@pytest.mark.parametrize(
    "text",
    [
        "hi",
        "  padded  ",
        "<b>not html</b>",
        "שלום",
        "e\u0301",
        "👩🏽‍💻",
        "line\nbreak\ttab",
        "x" * 4096,
    ],
)
def test_text_kept_exactly(text: str) -> None:
    assert messages.check_text(text, max_length=4096) == text


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "x" * 4097, "bell\x07", "nul\x00"])
def test_bad_text(text: str) -> None:
    assert code_of(messages.check_text, text, max_length=4096) == "invalid_text"


@pytest.mark.parametrize("emoji", ["👍", "❤️", "👩🏽‍💻", "🇫🇷", "1️⃣", "👍🏿", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "👨‍👩‍👧‍👦"])
def test_reactions_accepted(emoji: str) -> None:
    assert messages.check_reaction(emoji) == emoji


@pytest.mark.parametrize(
    "emoji", ["", "a", "ok", "👍 ", "é", "ж", "👍" * 17, "👍👍", "🇫🇷🇩🇪", "❤️👍", "👩🏽‍💻🙂"]
)
def test_reactions_refused(emoji: str) -> None:
    assert code_of(messages.check_reaction, emoji) == "invalid_reaction"


def test_edit_window() -> None:
    messages.check_edit_window(sent_at_ms=0, now_ms=900_000, window_seconds=900)
    assert (
        code_of(messages.check_edit_window, sent_at_ms=0, now_ms=900_001, window_seconds=900)
        == "edit_window_closed"
    )


def test_forward_targets() -> None:
    messages.check_forward_targets(5, maximum=5)
    assert code_of(messages.check_forward_targets, 6, maximum=5) == "too_many_targets"
    assert code_of(messages.check_forward_targets, 0, maximum=5) == "invalid_request"


def test_direct_key_is_symmetric() -> None:
    assert conversations.direct_key(3, 7) == conversations.direct_key(7, 3) == "3:7"


def test_new_members() -> None:
    assert conversations.check_new_members(["bob"], me="alice", kind="direct") == ["bob"]
    for handles, kind in [
        ([], "group"),
        (["bob", "bob"], "group"),
        (["alice"], "direct"),
        (["bob", "carol"], "direct"),
    ]:
        assert code_of(conversations.check_new_members, handles, me="alice", kind=kind) == (
            "invalid_members"
        )


def test_group_size_and_title() -> None:
    conversations.check_group_size(250, maximum=250)
    assert code_of(conversations.check_group_size, 251, maximum=250) == "group_too_large"
    assert conversations.check_title("  Trip  ") == "Trip"
    assert conversations.check_title("   ") is None
    assert code_of(conversations.check_title, "x" * 101) == "invalid_request"


def test_ids_are_opaque_and_unique() -> None:
    ids = {new_id("m") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("m_") and len(i) == 24 for i in ids)
    token = new_token()
    assert token.startswith("bc_") and len(token) > 40
    assert token_hash(token) != token and len(token_hash(token)) == 64


def test_error_codes_are_well_formed() -> None:
    for code, (status, meaning) in CODES.items():
        assert code.islower() and " " not in code
        assert 400 <= status < 600 and meaning
    with pytest.raises(ValueError):
        BackchannelError("no_such_code")
    assert BackchannelError("handle_taken").body()["error"]["code"] == "handle_taken"
