"""The sandboxed renderer: escaping, sandboxing, missing variables, caching, per-recipient detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from beacon.render import (
    MissingVariablesError,
    TemplateProblem,
    TemplateRenderer,
    TemplateSource,
    TemplateSyntaxProblem,
    UnsafeTemplateError,
)

ORG = {"name": "Tom & Jerry's", "postal_address": "1 Main St"}
CONTACT = {"first_name": "<script>alert(1)</script>", "email": "a@example.com", "custom_fields": {"tier": "gold"}}


def _template(**parts) -> TemplateSource:
    defaults = {"code": "t", "text_body": "Hi {{ contact.first_name }}"}
    return TemplateSource(**{**defaults, **parts})


def test_html_is_escaped_and_text_and_subject_are_not():
    template = _template(
        subject="{{ organization.name }} <news>",
        html_body="<p>Hi {{ contact.first_name }} from {{ organization.name }}</p><a href='{{ cta_url }}'>go</a>",
        text_body="Hi {{ contact.first_name }} from {{ organization.name }}",
    )
    message = TemplateRenderer().render(
        template, contact=CONTACT, organization=ORG, context={"cta_url": "https://x.example/?a=1&b=2"}
    )
    assert message.subject == "Tom & Jerry's <news>"
    assert message.html == (
        "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt; from Tom &amp; Jerry&#39;s</p>"
        "<a href='https://x.example/?a=1&amp;b=2'>go</a>"
    )
    assert message.text == "Hi <script>alert(1)</script> from Tom & Jerry's"


@pytest.mark.parametrize(
    "source",
    [
        "{{ contact.__class__ }}",
        "{{ contact.first_name.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__.__base__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ contact.custom_fields.update({'tier': 'free'}) }}",
        "{{ contact.tags.append('x') }}",
        "{{ organization.name.format.__globals__ }}",
    ],
)
def test_sandbox_blocks_unsafe_access(source):
    contact = {**CONTACT, "tags": []}
    with pytest.raises(UnsafeTemplateError, match="template 't': not allowed"):
        TemplateRenderer().render(_template(text_body=source), contact=contact, organization=ORG)
    assert contact["tags"] == [] and contact["custom_fields"] == {"tier": "gold"}


def test_missing_required_variables_are_all_named():
    template = _template(
        text_body="{{ body }} {{ cta_url }}", required_variables=["body", "cta_url"], code="newsletter"
    )
    with pytest.raises(MissingVariablesError) as error:
        TemplateRenderer().render(template, contact=CONTACT, organization=ORG, context={"cta_url": ""})
    assert error.value.missing == ["body", "cta_url"]
    assert str(error.value) == "template 'newsletter': missing required variables: body, cta_url"


def test_undeclared_variables_fail_strictly():
    template = _template(text_body="{{ offer }} and {{ coupon }}")
    with pytest.raises(MissingVariablesError) as error:
        TemplateRenderer().render(template, contact=CONTACT, organization=ORG, context={})
    assert error.value.missing == ["coupon", "offer"]
    guarded = _template(text_body="{% if coupon is defined %}{{ coupon }}{% else %}none{% endif %}")
    assert TemplateRenderer().render(guarded, contact=CONTACT, organization=ORG).text == "none"


def test_syntax_error_names_part_and_line():
    template = _template(html_body="<p>ok</p>\n{{ contact.first_name }\n", code="promo")
    with pytest.raises(TemplateSyntaxProblem, match=r"template 'promo': html_body line 2: unexpected '}'"):
        TemplateRenderer().compile(template)


def test_context_cannot_redefine_contact():
    with pytest.raises(TemplateProblem, match="redefine"):
        TemplateRenderer().render(_template(), contact=CONTACT, organization=ORG, context={"contact": {}})


def test_compiled_once_per_template_version():
    renderer = TemplateRenderer()
    stamp = datetime(2026, 11, 1, tzinfo=UTC)
    template = _template(id=7, updated_at=stamp)
    first = renderer.compile(template)
    assert renderer.compile(template) is first
    for _ in range(100):
        renderer.render(template, contact=CONTACT, organization=ORG)
    assert renderer.compilations == 1
    edited = _template(id=7, updated_at=stamp + timedelta(minutes=1), text_body="Hello {{ contact.first_name }}")
    assert renderer.render(edited, contact={"first_name": "Ann"}, organization=ORG).text == "Hello Ann"
    assert renderer.compilations == 2


def test_cache_is_bounded():
    renderer = TemplateRenderer(max_cached=2)
    for i in range(3):
        renderer.compile(_template(id=i))
    renderer.compile(_template(id=0))  # evicted, compiled again
    assert renderer.compilations == 4


def test_per_recipient_detection():
    renderer = TemplateRenderer()
    shared = _template(subject="{{ organization.name }} news", text_body="{{ body }} {{ unsubscribe_url }}")
    compiled = renderer.compile(shared)
    assert not compiled.is_per_recipient
    assert compiled.per_send_variables == {"unsubscribe_url"}
    personal = renderer.compile(
        _template(subject="{{ contact['first_name'] }}", text_body="{{ contact.custom_fields.tier }}")
    )
    assert personal.is_per_recipient and personal.contact_fields == {"first_name", "custom_fields"}
    whole = renderer.compile(_template(text_body="{{ contact | tojson }}"))
    assert whole.contact_fields == {"*"}


def test_every_seeded_template_renders_with_orm_rows(migrated_db):
    """The seeded platform templates render from real rows on both back ends."""
    from beacon.schema.db import make_engine, session_scope
    from beacon.schema.models import Contact, Template
    from beacon.store.organizations import create_organization

    engine = make_engine(migrated_db)
    renderer = TemplateRenderer()
    with session_scope(engine) as session:
        org_id, organization = create_organization(
            session, type_code="ecommerce", name="Shop & Co", slug="shop", postal_address="1 Main St"
        )
        contact = Contact(organization_id=org_id, email="ann@example.com", first_name="Ann")
        session.add(contact)
        session.flush()
        templates = session.scalars(select(Template).where(Template.organization_id.is_(None))).all()
        assert templates
        context = {
            "body": "News",
            "cta_url": "https://shop.example/x",
            "offer": "20% off",
            "unsubscribe_url": "https://b.example/u/t",
            "preferences_url": "https://b.example/p/t",
        }
        for template in templates:
            message = renderer.render(template, contact=contact, organization=organization, context=context)
            assert "Ann" in message.text or "Shop & Co" in message.text or "20% off" in message.text
            if message.html:
                assert "Shop &amp; Co" in message.html or "Ann" in message.html
            with pytest.raises(MissingVariablesError):
                renderer.render(template, contact=contact, organization=organization, context={})
    engine.dispose()


def test_a_field_without_value_prints_nothing():
    from beacon.render import TemplateSource, default_renderer

    source = TemplateSource(code="t", text_body="Hi {{ contact.first_name }}!", subject="For {{ contact.first_name }}")
    rendered = default_renderer().compile(source).render({"contact": {"first_name": None}})
    assert rendered.text == "Hi !" and rendered.subject == "For "
