"""Open pixel, click redirect, unsubscribe and preferences through signed links."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from beacon.schema.models import Contact, Event, Suppression
from beacon.tokens import TokenKind, sign
from tests.api.conftest import make_message, read

NEW_KEYS = ["test-key-new", "test-key-old"]


@pytest.fixture
def message(db, tenant_a):
    return make_message(db, tenant_a, email="Reader@Example.org")


def _events(db, message, kind=None):
    query = select(Event).where(Event.send_id == message.send_id)
    if kind:
        query = query.where(Event.event_type == kind)
    return [row[0] for row in read(db, query)]


def test_open_pixel_returns_an_uncached_gif_and_records_the_open(client, db, message):
    token = sign(TokenKind.open, message.send_id, NEW_KEYS)
    response = client.get(f"/t/o/{token}.gif", headers={"User-Agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response.headers["cache-control"] and response.headers["pragma"] == "no-cache"
    client.get(f"/t/o/{token}.gif", headers={"User-Agent": "Mozilla/5.0 (iPhone)"})
    opens = _events(db, message, "opened")
    assert len(opens) == 2, "every hit is an open event"
    assert {e.payload["machine_open"] for e in opens} == {True, False}
    assert all(e.organization_id == message.org and e.contact_id == message.contact_id and e.provider == "beacon" for e in opens)


def test_click_redirects_to_the_signed_destination_and_flags_bots(client, db, message):
    token = sign(TokenKind.click, message.send_id, NEW_KEYS, url="https://shop.example/spring?utm=b")
    response = client.get(f"/t/c/{token}", follow_redirects=False, headers={"User-Agent": "Barracuda link scanner"})
    assert response.status_code == 302 and response.headers["location"] == "https://shop.example/spring?utm=b"
    clicks = _events(db, message, "clicked")
    assert len(clicks) == 1 and clicks[0].payload["bot"] is True and clicks[0].payload["url"] == "https://shop.example/spring?utm=b"


def _tamper(token: str) -> list[str]:
    body, kid, mac = token.split(".")
    flipped = mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")
    return [f"{body}.{kid}.{flipped}", f"{body[:-3]}xyz.{kid}.{mac}", f"{body}.deadbeef.{mac}", token[:-6], "nonsense",
            sign(TokenKind.click, uuid.uuid4(), NEW_KEYS, url="https://evil.example/")]


def test_forged_or_altered_tokens_are_404_without_location(client, db, message):
    click = sign(TokenKind.click, message.send_id, NEW_KEYS, url="https://shop.example/")
    forged_elsewhere = sign(TokenKind.click, message.send_id, ["attacker-key"], url="https://evil.example/")
    for bad in _tamper(click) + [forged_elsewhere, sign(TokenKind.open, message.send_id, NEW_KEYS)]:
        response = client.get(f"/t/c/{bad}", follow_redirects=False)
        assert response.status_code == 404, bad
        assert "location" not in response.headers
        assert response.json()["error"]["code"] == "not_found"
    opened = sign(TokenKind.open, message.send_id, NEW_KEYS)
    for bad in _tamper(opened):
        assert client.get(f"/t/o/{bad}.gif").status_code == 404
    assert _events(db, message) == [], "nothing is recorded for a bad token"


UNSAFE = ["//evil.example/", "javascript:alert(1)", "data:text/html,x", "/relative", "https:\\\\evil.example", "ftp://files.example/"]


def test_unsafe_destinations_are_refused_even_if_signed_with_our_key(client, db, message):
    # Bypass sign()'s own check to prove the redirect endpoint checks again.
    import base64
    import json

    from beacon.tokens import _mac, key_id

    for destination in UNSAFE:
        body = base64.urlsafe_b64encode(json.dumps({"k": "c", "s": message.send_id.hex, "u": destination}).encode()).rstrip(b"=").decode()
        kid = key_id(NEW_KEYS[0])
        token = f"{body}.{kid}.{_mac(NEW_KEYS[0], f'{body}.{kid}')}"
        response = client.get(f"/t/c/{token}", follow_redirects=False)
        assert response.status_code == 404 and "location" not in response.headers, destination
    assert _events(db, message) == []


def test_key_rotation_keeps_links_signed_with_the_old_key_working(client, message):
    old_link = sign(TokenKind.click, message.send_id, ["test-key-old"], url="https://shop.example/old")
    response = client.get(f"/t/c/{old_link}", follow_redirects=False)
    assert response.status_code == 302 and response.headers["location"] == "https://shop.example/old"
    retired = sign(TokenKind.click, message.send_id, ["test-key-retired"], url="https://shop.example/old")
    assert client.get(f"/t/c/{retired}", follow_redirects=False).status_code == 404


def test_unsubscribe_get_only_asks_and_post_is_one_click_and_idempotent(client, db, message):
    token = sign(TokenKind.unsubscribe, message.send_id, NEW_KEYS)
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "<form method=post" in page.text and "reader@example.org" in page.text
    assert read(db, select(Suppression.id)) == [] and _events(db, message) == [], "GET must not unsubscribe"
    contact = read(db, select(Contact).where(Contact.id == message.contact_id))[0][0]
    assert contact.status == "active" and contact.consent_email

    for _ in range(2):  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click", without cookies
        response = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
        assert response.status_code == 200 and "location" not in response.headers and "set-cookie" not in response.headers
    suppressions = read(db, select(Suppression).where(Suppression.organization_id == message.org))
    assert [(s[0].address, s[0].reason.value, s[0].source) for s in suppressions] == [("reader@example.org", "unsubscribed", "unsubscribe_link")]
    assert len(_events(db, message, "unsubscribed")) == 1
    contact = read(db, select(Contact).where(Contact.id == message.contact_id))[0][0]
    assert contact.status == "unsubscribed" and contact.consent_email is False


def test_unsubscribe_with_a_forged_token_changes_nothing(client, db, message):
    token = sign(TokenKind.unsubscribe, message.send_id, ["attacker-key"])
    assert client.post(f"/u/{token}").status_code == 404
    assert read(db, select(Suppression.id)) == []


def test_preferences_page_and_save(client, db, message):
    token = sign(TokenKind.preferences, message.send_id, NEW_KEYS)
    page = client.get(f"/preferences/{token}")
    assert page.status_code == 200 and "name=promotional value=on checked" in page.text
    response = client.post(f"/preferences/{token}", data={"newsletter": "on"})
    assert response.status_code == 200 and "newsletter" in response.text
    contact = read(db, select(Contact).where(Contact.id == message.contact_id))[0][0]
    assert (contact.consent_promotional, contact.consent_newsletter) == (False, True)
    assert _events(db, message, "unsubscribed") == []
    client.post(f"/preferences/{token}", data={})
    assert len(_events(db, message, "unsubscribed")) == 1, "switching every category off is an unsubscribe"
    assert client.get(f"/preferences/{sign(TokenKind.unsubscribe, message.send_id, NEW_KEYS)}").status_code == 404
