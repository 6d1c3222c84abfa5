"""Client factories: real services when credentials are set, the local fake otherwise, per provider."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from pydantic import SecretStr

from beacon.providers import credentials
from beacon.providers.clients import (
    RedirectingTwilioHttpClient,
    sendgrid_client,
    stripe_client,
    twilio_client,
    with_sandbox_mode,
)
from beacon.settings import Settings


def _real(**overrides) -> Settings:
    values = {
        "sendgrid_api_key": SecretStr("SG.real"),
        "sendgrid_webhook_public_key": "PUBLICKEY",
        "twilio_account_sid": "AC" + "9" * 32,
        "twilio_auth_token": SecretStr("real-token"),
        "stripe_api_key": SecretStr("sk_live_real"),
        "stripe_webhook_secret": SecretStr("whsec_real"),
    }
    return Settings(**{**values, **overrides})


def test_real_credentials_select_the_real_services():
    settings = _real()
    assert sendgrid_client(settings).host == "https://api.sendgrid.com"
    twilio = twilio_client(settings)
    assert twilio.account_sid == settings.twilio_account_sid
    assert not isinstance(twilio.http_client, RedirectingTwilioHttpClient)
    assert stripe_client(settings)._requestor.base_addresses["api"] == "https://api.stripe.com"
    assert credentials.sendgrid_webhook_public_key(settings) == "PUBLICKEY"
    assert credentials.twilio_auth_token(settings) == "real-token"
    assert credentials.stripe_webhook_secret(settings) == "whsec_real"


def test_no_credentials_select_the_fake(fake_settings):
    assert sendgrid_client(fake_settings).host == fake_settings.fake_providers_url
    assert isinstance(twilio_client(fake_settings).http_client, RedirectingTwilioHttpClient)
    assert stripe_client(fake_settings)._requestor.base_addresses["api"] == fake_settings.fake_providers_url
    assert credentials.twilio_auth_token(fake_settings) == credentials.FAKE_TWILIO_AUTH_TOKEN
    assert credentials.stripe_webhook_secret(fake_settings) == credentials.FAKE_STRIPE_WEBHOOK_SECRET


def test_each_provider_is_chosen_on_its_own(fake, fake_settings):
    """Real Stripe with fake messaging (e.g. a staging billing account) still sends mail to the fake."""
    mixed = fake_settings.model_copy(
        update={"stripe_api_key": SecretStr("sk_test_real"), "stripe_webhook_secret": SecretStr("whsec_x")}
    )
    assert stripe_client(mixed)._requestor.base_addresses["api"] == "https://api.stripe.com"
    response = sendgrid_client(mixed).client.mail.send.post(
        request_body={
            "from": {"email": "a@example.com"},
            "subject": "s",
            "content": [{"type": "text/plain", "value": "v"}],
            "personalizations": [{"to": [{"email": "b@example.com"}]}],
        }
    )
    assert response.status_code == 202
    message = twilio_client(mixed).messages.create(to="+14155550100", from_="+15005550006", body="hi")
    assert len(fake.control("GET", "/_fake/messages")["twilio"]) == 1 and message.sid.startswith("SM")


def test_real_provider_without_webhook_secret_is_a_clear_error():
    with pytest.raises(ValueError, match="BEACON_SENDGRID_WEBHOOK_PUBLIC_KEY"):
        credentials.sendgrid_webhook_public_key(_real(sendgrid_webhook_public_key=None))
    with pytest.raises(ValueError, match="BEACON_STRIPE_WEBHOOK_SECRET"):
        credentials.stripe_webhook_secret(_real(stripe_webhook_secret=None))


def test_fake_public_key_is_stable_and_loads_in_the_sdk():
    from sendgrid.helpers.eventwebhook import EventWebhook

    key = credentials.fake_sendgrid_public_key()
    assert key == credentials.fake_sendgrid_public_key()
    assert EventWebhook(key).public_key.curve.name == "secp256r1"


def test_sandbox_mode_keeps_other_mail_settings():
    body = with_sandbox_mode({"mail_settings": {"bypass_list_management": {"enable": True}}})
    assert body["mail_settings"] == {"bypass_list_management": {"enable": True}, "sandbox_mode": {"enable": True}}


def test_redirect_only_rewrites_twilio_hosts(fake):
    http = RedirectingTwilioHttpClient(fake.url)
    response = http.request("GET", "https://api.twilio.com/_fake/health")
    assert response.status_code == 200
    assert http._test_only_last_request.url == f"{fake.url}/_fake/health"


def test_cli_serves_the_fakes(tmp_path, credential_variables):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in credential_variables}
    env["BEACON_FAKE_PROVIDERS_URL"] = f"http://127.0.0.1:{port}"
    env["BEACON_PUBLIC_BASE_URL"] = "http://127.0.0.1:9999"
    process = subprocess.Popen(
        [sys.executable, "-m", "beacon.cli", "fake-providers"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(300):
            try:
                config = httpx.get(f"http://127.0.0.1:{port}/_fake/config", timeout=1).json()
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                time.sleep(0.05)
        else:
            pytest.fail("beacon fake-providers did not start")
        assert config["sendgrid_event_webhook_url"] == "http://127.0.0.1:9999/webhooks/sendgrid"
        assert config["stripe_webhook_url"] == "http://127.0.0.1:9999/webhooks/stripe"
    finally:
        process.terminate()
        process.wait(timeout=10)
