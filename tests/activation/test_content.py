"""Content: shared rendering + substitutions must equal per-recipient rendering; template lookup."""

from __future__ import annotations

import uuid

import pytest

from activation.content import (
    MissingField, TemplateNotFound, TemplateVersion, apply_substitutions, compile_content, default_language, load_templates,
    render_individual, shareable_slots, substitutions,
)
from beacon.render import TemplateProblem
from beacon.schema.models import Channel
from beacon.tokens import TokenKind, TrackingLinks, verify

KEYS = ["content-test-key"]
STATIC = {"organization": {"name": "Shop & Co"}, "campaign": {"id": 1, "name": "Sale"}}


def version(subject="Hi {{ contact.first_name }}", html=None, text="Hi {{ contact.first_name }}"):
    return TemplateVersion(1, None, "promo", "en", "email", "promotional", subject, html, text, [])


HTML = ('<html><body><h1>{{ organization.name }}</h1><p>Dear {{ contact.first_name }} {{ contact["last_name"] }} {{ send_id }} <img src="{{ tracking_pixel_url }}">,'
        ' tier {{ contact.custom_fields.tier }}</p><a href="https://shop.example.com/p?id={{ contact.external_id }}&amp;x=1">go</a>'
        '<a href="https://shop.example.com/static">static</a><a href="mailto:help@shop.example.com">mail</a>'
        '<a href="{{ unsubscribe_url }}">unsubscribe</a></body></html>')

PEOPLE = [
    {"first_name": "Ann", "last_name": "O'Neil <b>", "external_id": "c-1", "custom_fields": {"tier": "gold & co"}},
    {"first_name": None, "last_name": "Lee", "external_id": None, "custom_fields": {"tier": ""}},
    {"first_name": "Zoë", "last_name": "\"Q\"", "external_id": "x y", "custom_fields": {"tier": "<script>"}},
]


def test_shared_rendering_equals_individual_rendering():
    content = compile_content(version(html=HTML), subject_override=None, static_context=STATIC,
                              footer_address="1 Main St", add_tracking=True)
    assert content.shared
    for person in PEOPLE:
        links = TrackingLinks("https://t.example", uuid.uuid4(), KEYS)
        shared = apply_substitutions(content.shared_parts, substitutions(content, person, links))
        single = render_individual(content, person, links)
        assert shared == single
        assert "%bcn_" not in shared.html + shared.text + shared.subject
        assert "&lt;script&gt;" in shared.html or person["custom_fields"]["tier"] != "<script>"
        assert "1 Main St" in shared.html and "1 Main St" in shared.text


def test_a_recipient_missing_a_printed_field_is_an_error_on_both_paths():
    content = compile_content(version(html=HTML), subject_override=None, static_context=STATIC,
                              footer_address=None, add_tracking=True)
    person = {**PEOPLE[0], "custom_fields": {}}
    links = TrackingLinks("https://t.example", uuid.uuid4(), KEYS)
    with pytest.raises(MissingField, match="custom_fields.tier"):
        substitutions(content, person, links)
    with pytest.raises(TemplateProblem):
        render_individual(content, person, links)


def test_links_are_signed_redirects_to_the_original_destination():
    content = compile_content(version(html=HTML), subject_override=None, static_context=STATIC,
                              footer_address=None, add_tracking=True)
    send_id = uuid.uuid4()
    links = TrackingLinks("https://t.example", send_id, KEYS)
    subs = substitutions(content, PEOPLE[0], links)
    html = apply_substitutions(content.shared_parts, subs).html
    assert "mailto:help@shop.example.com" in html  # not tracked
    clicks = [v for v in subs.values() if v.startswith("https://t.example/t/c/")]
    destinations = {verify(c.rsplit("/", 1)[1], KEYS, kind=TokenKind.click).url for c in clicks}
    assert destinations == {"https://shop.example.com/p?id=c-1&x=1", "https://shop.example.com/static"}
    assert links.open_pixel in html and links.unsubscribe in html


@pytest.mark.parametrize(
    "source",
    [
        "{% if contact.first_name %}Hi {{ contact.first_name }}{% endif %}",
        "{{ contact.first_name | upper }}",
        "{% for t in contact.custom_fields.tags %}{{ t }}{% endfor %}",
        "{{ contact }}",
        "{% set contact = 1 %}{{ contact }}",
    ],
)
def test_templates_that_branch_on_recipient_data_are_rendered_per_recipient(source):
    assert shareable_slots([source]) is None
    content = compile_content(version(text=source, subject="Hello"), subject_override=None, static_context=STATIC,
                              footer_address=None, add_tracking=False)
    assert not content.shared


def test_tenant_override_beats_platform_and_language_falls_back(world):
    world.template("welcome", platform=True, subject="Platform EN")
    world.template("welcome", platform=True, language="fr", subject="Platform FR")
    world.template("welcome", subject="Tenant EN")
    with world.engine.connect() as conn:
        versions = load_templates(conn, world.org, "welcome", Channel.email)
        with pytest.raises(TemplateNotFound, match="no email template 'nope'"):
            load_templates(conn, world.org, "nope", Channel.email)
    assert versions["en"].subject == "Tenant EN" and versions["en"].organization_id == world.org
    assert versions["fr"].subject == "Platform FR"
    assert default_language(versions, "de") == "en"
    assert default_language(versions, "fr") == "fr"


def test_send_ids_are_deterministic_ordered_by_contact_and_unique():
    import uuid

    from activation.content import CONTACT_BITS, _NAMESPACE, new_send_id, send_id_hex

    for org, campaign, contact, step in [(1, 2, 3, 0), (10**9, 7, 12345678901, 3)]:
        sid = new_send_id(org, campaign, contact, step)
        assert sid == new_send_id(org, campaign, contact, step) and sid.hex == send_id_hex(org, campaign, contact, step)
        assert (sid.version, sid.variant) == (8, uuid.RFC_4122)
        assert sid.int & ((1 << CONTACT_BITS) - 1) == contact  # the contact id is the low bits: batches are neighbours
    ids = [new_send_id(1, 2, contact, 0) for contact in (1, 2, 10, 2**40, 2**CONTACT_BITS - 1)]
    assert ids == sorted(ids)
    others = {new_send_id(1, 2, 5, 1), new_send_id(1, 3, 5, 0), new_send_id(2, 2, 5, 0), new_send_id(1, 2, 5, 0)}
    assert len(others) == 4  # another step, campaign or organization: another prefix
    # contact ids past 62 bits fall back to uuid5 (version 5: never equal to an ordered id)
    big = 2**CONTACT_BITS + 7
    assert new_send_id(1, 2, big, 0) == uuid.uuid5(_NAMESPACE, f"1:2:{big}:0")
