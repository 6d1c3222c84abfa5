"""Reference data every installation starts with: organization types, plans, platform templates.

Inserted by the seed migration; kept here as plain data so the generator and tests can read it.
"""

from __future__ import annotations

from decimal import Decimal

ORGANIZATION_TYPES: dict[str, tuple[str, list[str]]] = {
    # code: (name, contact-type templates in display order)
    "church": ("Church", ["New Member", "Visitor", "Member", "Volunteer", "Donor", "Inactive"]),
    "ecommerce": ("E-commerce", ["Lead", "Prospect", "Customer", "VIP Customer", "Churned"]),
    "saas": ("SaaS", ["Trial User", "Subscriber", "Enterprise", "Churned"]),
    "nonprofit": ("Non-profit", ["Supporter", "Volunteer", "Donor", "Board Member"]),
}


def contact_type_code(name: str) -> str:
    return name.lower().replace(" ", "_").replace("-", "_")


PLANS: list[dict] = [
    {
        "code": "starter", "name": "Starter", "currency": "USD",
        "monthly_price": Decimal("29.00"), "yearly_price": Decimal("290.00"),
        "contact_limit": 2_500, "email_limit": 15_000, "sms_limit": 500, "whatsapp_limit": 0,
        "campaign_limit": 20,
        "email_overage_price": Decimal("0.0015"), "sms_overage_price": Decimal("0.0150"),
        "whatsapp_overage_price": Decimal("0.0300"), "features": ["email", "sms"],
    },
    {
        "code": "growth", "name": "Growth", "currency": "USD",
        "monthly_price": Decimal("149.00"), "yearly_price": Decimal("1490.00"),
        "contact_limit": 25_000, "email_limit": 150_000, "sms_limit": 5_000, "whatsapp_limit": 1_000,
        "campaign_limit": 200,
        "email_overage_price": Decimal("0.0010"), "sms_overage_price": Decimal("0.0120"),
        "whatsapp_overage_price": Decimal("0.0250"), "features": ["email", "sms", "whatsapp", "ab_tests", "automations"],
    },
    {
        "code": "scale", "name": "Scale", "currency": "USD",
        "monthly_price": Decimal("799.00"), "yearly_price": Decimal("7990.00"),
        "contact_limit": 500_000, "email_limit": 2_000_000, "sms_limit": 50_000, "whatsapp_limit": 20_000,
        "campaign_limit": 5_000,
        "email_overage_price": Decimal("0.0006"), "sms_overage_price": Decimal("0.0090"),
        "whatsapp_overage_price": Decimal("0.0200"),
        "features": ["email", "sms", "whatsapp", "ab_tests", "automations", "predictive_clv", "sso"],
    },
]

_FOOTER = (
    '<p style="font-size:12px;color:#666">{{ organization.name }} · {{ organization.postal_address }}<br>'
    '<a href="{{ preferences_url }}">Email preferences</a> · <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)

PLATFORM_TEMPLATES: list[dict] = [
    {
        "code": "newsletter", "language": "en", "channel": "email", "category": "newsletter",
        "subject": "{{ organization.name }}: this month's news",
        "html_body": "<p>Hi {{ contact.first_name or 'there' }},</p><p>{{ body }}</p>"
        '<p><a href="{{ cta_url }}">Read more</a></p>' + _FOOTER,
        "text_body": "Hi {{ contact.first_name or 'there' }},\n\n{{ body }}\n\nRead more: {{ cta_url }}",
        "required_variables": ["body", "cta_url"],
    },
    {
        "code": "newsletter", "language": "es", "channel": "email", "category": "newsletter",
        "subject": "{{ organization.name }}: novedades del mes",
        "html_body": "<p>Hola {{ contact.first_name or '' }},</p><p>{{ body }}</p>"
        '<p><a href="{{ cta_url }}">Leer más</a></p>' + _FOOTER,
        "text_body": "Hola {{ contact.first_name or '' }},\n\n{{ body }}\n\nLeer más: {{ cta_url }}",
        "required_variables": ["body", "cta_url"],
    },
    {
        "code": "promotion", "language": "en", "channel": "email", "category": "promotional",
        "subject": "{{ contact.first_name or 'Friend' }}, {{ offer }}",
        "html_body": "<p>Hi {{ contact.first_name or 'there' }},</p><p>{{ offer }}</p>"
        '<p><a href="{{ cta_url }}">Shop now</a></p>' + _FOOTER,
        "text_body": "Hi {{ contact.first_name or 'there' }}, {{ offer }} {{ cta_url }}",
        "required_variables": ["offer", "cta_url"],
    },
    {
        "code": "welcome", "language": "en", "channel": "email", "category": "transactional",
        "subject": "Welcome to {{ organization.name }}",
        "html_body": "<p>Welcome, {{ contact.first_name or 'friend' }}!</p>"
        '<p><a href="{{ cta_url }}">Get started</a></p>' + _FOOTER,
        "text_body": "Welcome, {{ contact.first_name or 'friend' }}! Get started: {{ cta_url }}",
        "required_variables": ["cta_url"],
    },
    {
        "code": "abandoned_cart", "language": "en", "channel": "email", "category": "promotional",
        "subject": "You left something behind",
        "html_body": "<p>Hi {{ contact.first_name or 'there' }}, your cart is waiting.</p>"
        '<p><a href="{{ cta_url }}">Complete your order</a></p>' + _FOOTER,
        "text_body": "Hi {{ contact.first_name or 'there' }}, your cart is waiting: {{ cta_url }}",
        "required_variables": ["cta_url"],
    },
    {
        "code": "sms_promotion", "language": "en", "channel": "sms", "category": "promotional",
        "subject": None, "html_body": None,
        "text_body": "{{ organization.name }}: {{ offer }} {{ cta_url }} Reply STOP to opt out.",
        "required_variables": ["offer", "cta_url"],
    },
]
