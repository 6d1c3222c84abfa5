"""The fake SendGrid records a request once and fills each recipient's content when read: the result
must be what applying the substitutions up front gives, and its quick address check must agree
with email-validator."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from beacon.providers.fake.sendgrid import SendGridError, _check_email, validate_mail


def _body(personalizations):
    return {
        "from": {"email": "shop@example.com"},
        "subject": "Hi -name-",
        "content": [{"type": "text/plain", "value": "Hello -name-, -code-"},
                    {"type": "text/html", "value": '<p>Hello -name-</p><a href="-link-">x</a>'}],
        "personalizations": personalizations,
    }


def test_content_is_filled_from_each_recipients_substitutions_when_read():
    plans = validate_mail(_body([
        {"to": [{"email": "a@example.com"}], "substitutions": {"-name-": "Ann", "-code-": "-name-", "-link-": "https://x.example/a"}},
        {"to": [{"email": "b@example.com"}, {"email": "c@example.com"}], "substitutions": {"-name-": "Bo", "-code-": "7", "-link-": "https://x.example/b"}},
    ]))
    assert [p["email"] for p in plans] == ["a@example.com", "b@example.com", "c@example.com"]
    first = plans[0]
    assert first["subject"] == "Hi Ann"
    # one pass, as SendGrid: a value that looks like a key is not substituted again
    assert first["content"][0]["value"] == "Hello Ann, -name-"
    assert first.get("links") == ["https://x.example/a"]
    assert plans[2].resolved()["content"][1]["value"] == '<p>Hello Bo</p><a href="https://x.example/b">x</a>'
    assert plans[1].get("nothing", "default") == "default"
    with pytest.raises(KeyError):
        plans[1]["nothing"]


def test_non_string_substitutions_are_refused_naming_the_field():
    with pytest.raises(SendGridError) as error:
        validate_mail(_body([{"to": [{"email": "a@example.com"}], "substitutions": {"-name-": 5}}]))
    assert error.value.field == "personalizations.0.substitutions"


@pytest.mark.parametrize("address", [
    "ann@example.com", "ann.lee+news@shop.example.co.uk", "o'brien@example.org", "x_y-z@sub-domain.example.com",
    "not-an-address", "a..b@example.com", ".a@example.com", "a@-example.com", "a@example", "a b@example.com",
    "ann@exa_mple.com", "ünï@example.com", "a@" + "x" * 64 + ".com", "@example.com",
])
def test_quick_address_check_agrees_with_email_validator(address):
    try:
        validate_email(address, check_deliverability=False, test_environment=True)
        expected = True
    except EmailNotValidError:
        expected = False
    try:
        _check_email({"email": address}, "to.0")
        accepted = True
    except SendGridError:
        accepted = False
    assert accepted == expected

