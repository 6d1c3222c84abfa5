"""Signed link tokens: round trip, forgery and alteration, key rotation, destination safety."""

from __future__ import annotations

import uuid

import pytest

from beacon.tokens import InvalidToken, TokenKind, TrackingLinks, UnsafeDestination, check_destination, sign, verify

KEYS = ["new-key", "old-key"]
SEND = uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")


def test_round_trip_carries_send_kind_and_url():
    token = sign(TokenKind.click, SEND, KEYS, url="https://shop.example/p?x=1#top")
    claims = verify(token, KEYS, kind=TokenKind.click)
    assert (claims.kind, claims.send_id, claims.url) == (TokenKind.click, SEND, "https://shop.example/p?x=1#top")
    assert all(ch.isalnum() or ch in "-_." for ch in token), "tokens must be URL-safe"


def test_every_altered_character_is_rejected():
    token = sign(TokenKind.open, SEND, KEYS)
    for i, ch in enumerate(token):
        if ch == ".":
            continue
        altered = token[:i] + ("A" if ch != "A" else "B") + token[i + 1:]
        with pytest.raises(InvalidToken):
            verify(altered, KEYS)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "...", "€.€.€"])
def test_garbage_is_rejected(token):
    with pytest.raises(InvalidToken):
        verify(token, KEYS)


def test_a_key_outside_the_list_cannot_sign():
    with pytest.raises(InvalidToken, match="unknown key"):
        verify(sign(TokenKind.open, SEND, ["attacker-key"]), KEYS)


def test_rotation_old_links_keep_working_until_the_old_key_is_dropped():
    old_token = sign(TokenKind.unsubscribe, SEND, ["old-key"])
    assert verify(old_token, ["new-key", "old-key"]).send_id == SEND
    assert verify(sign(TokenKind.unsubscribe, SEND, ["new-key", "old-key"]), ["new-key"]).send_id == SEND
    with pytest.raises(InvalidToken):
        verify(old_token, ["new-key"])


def test_kind_is_pinned():
    with pytest.raises(InvalidToken, match="expected a unsubscribe token"):
        verify(sign(TokenKind.open, SEND, KEYS), KEYS, kind=TokenKind.unsubscribe)


@pytest.mark.parametrize("url", ["//evil.example/x", "javascript:alert(1)", "data:text/html,hi", "/relative", "relative",
                                 "ftp://host/x", "https:\\\\evil.example", "http:///nohost", "https://ok.example/\nx", ""])
def test_unsafe_destinations_are_refused_at_signing(url):
    with pytest.raises(UnsafeDestination):
        check_destination(url)
    with pytest.raises(UnsafeDestination):
        sign(TokenKind.click, SEND, KEYS, url=url)


def test_links_point_at_the_public_base_url():
    links = TrackingLinks("https://t.example/", SEND, KEYS)
    assert links.open_pixel.startswith("https://t.example/t/o/") and links.open_pixel.endswith(".gif")
    assert links.unsubscribe.startswith("https://t.example/u/")
    assert links.preferences.startswith("https://t.example/preferences/")
    token = links.click("https://shop.example/").rsplit("/", 1)[1]
    assert verify(token, KEYS, kind=TokenKind.click).url == "https://shop.example/"


def test_no_keys_is_a_clear_error():
    with pytest.raises(ValueError, match="signing_keys"):
        sign(TokenKind.open, SEND, [])
