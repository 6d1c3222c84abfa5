"""``beacon generate``: realistic, consistent, deterministic data on both back ends.

The tiny scale is generated once per back end for the module (a few seconds each); every test
reads that output. Determinism is proven by generating again and comparing file bytes and a
canonical dump of the operational DB, also across SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import phonenumbers
import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from sqlalchemy import func, select

from beacon.cli import main
from beacon.generate import AlreadyGenerated, GenerateConfig, generate
from beacon.generate.buyers import MODELS, calibrate_alpha, expected_repeats, simulate
from beacon.generate.canonical import table_digests
from beacon.generate.names import BOT_USER_AGENTS
from beacon.generate.rng import stream
from beacon.schema.db import make_engine
from beacon.schema.models import Campaign, Contact, Event, Organization, OrganizationType, Send, Suppression
from beacon.schema.seed_data import ORGANIZATION_TYPES

SEED = 7


def _run(url: str, out: Path) -> dict:
    return generate(GenerateConfig(database_url=url, out=out, seed=SEED, scale="tiny"))


@pytest.fixture(scope="module")
def gen_sqlite(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("gen_sqlite")
    url = f"sqlite:///{out / 'beacon.db'}"
    return {"url": url, "out": out, "summary": _run(url, out)}


@pytest.fixture(scope="module")
def gen_postgres(tmp_path_factory, pg_server) -> Iterator[dict]:
    name = f"beacon_gen_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = pg_server.rpartition("/")[0] + f"/{name}"
    out = tmp_path_factory.mktemp("gen_pg")
    try:
        yield {"url": url, "out": out, "summary": _run(url, out)}
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], scope="module")
def generated(request) -> dict:
    return request.getfixturevalue(f"gen_{request.param}")


@pytest.fixture(scope="module")
def engine(generated):
    engine = make_engine(generated["url"])
    yield engine
    engine.dispose()


def _file_hashes(inbox: Path) -> dict[str, str]:
    return {str(p.relative_to(inbox)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(inbox.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- tenants and contacts


def test_every_organization_type_with_varied_sizes_currencies_and_settings(engine):
    with engine.connect() as conn:
        rows = conn.execute(select(OrganizationType.code, Organization.currency, Organization.timezone,
                                   Organization.settings, Organization.postal_address)
                            .join(OrganizationType)).all()
        sizes = conn.execute(select(func.count()).select_from(Contact).group_by(Contact.organization_id)).scalars().all()
    assert {r.code for r in rows} == set(ORGANIZATION_TYPES)
    assert {"USD", "EUR", "GBP", "CAD", "AUD", "BRL", "JPY"} <= {r.currency for r in rows}
    assert len({r.timezone for r in rows}) >= 6
    assert all(r.settings["frequency_cap"]["window_days"] == 7 and r.postal_address for r in rows)
    assert max(sizes) >= 5 * min(sizes)  # heavy-tailed tenant sizes


def test_contacts_are_plausible(engine):
    with engine.connect() as conn:
        contacts = conn.execute(select(Contact)).all()
    emails = [c for c in contacts if c.email]
    assert all(c.email_normalized == c.email.strip().lower() for c in emails)
    assert any(c.email != c.email_normalized for c in emails)  # mixed case kept as given
    phones = [c.phone for c in contacts if c.phone][:200]
    assert phones and all(phonenumbers.is_valid_number(phonenumbers.parse(p)) for p in phones)
    assert {c.language for c in contacts} >= {"en", "es"}
    assert len({c.country for c in contacts}) >= 8
    assert {c.status for c in contacts} >= {"active", "unsubscribed", "bounced"}
    assert any(c.tags for c in contacts) and all(c.custom_fields for c in contacts if c.erased_at is None)
    assert any(c.consent_email for c in contacts) and any(not c.consent_email for c in contacts)
    assert all(c.contact_type_id is not None for c in contacts)
    span = max(c.created_at for c in contacts) - min(c.created_at for c in contacts)
    assert span.days > 500


# ----------------------------------------------------------------------------- orders


def _orders(inbox: Path):
    con = duckdb.connect()
    parts = []
    for path in sorted(inbox.glob("*/orders/orders_*")):
        reader = {"csv": "read_csv", "ndjson": "read_json", "parquet": "read_parquet"}[path.suffix[1:]]
        opts = ", all_varchar=true" if reader == "read_csv" else ""
        parts.append(f"SELECT organization, order_id, coalesce(customer_external_id, lower(customer_email)) AS customer, "
                     f"CAST(created_at AS TIMESTAMPTZ) AS created_at, CAST(total AS DECIMAL(14,2)) AS total, "
                     f"CAST(refunded_amount AS DECIMAL(14,2)) AS refunded, status, currency "
                     f"FROM {reader}('{path}'{opts})")
    con.execute("CREATE TABLE orders AS " + " UNION ALL ".join(parts))
    return con


def test_orders_files_have_repeat_purchase_structure(generated):
    con = _orders(generated["out"] / "inbox")
    per_customer = con.execute("""
        SELECT organization, customer, count(DISTINCT order_id) AS n FROM orders
        WHERE status <> 'cancelled' GROUP BY ALL""").fetchnumpy()["n"]
    repeat_share = float((per_customer >= 2).mean())
    assert 0.25 <= repeat_share <= 0.95, repeat_share
    assert per_customer.max() >= 8  # heavy buyers exist
    statuses = dict(con.execute("SELECT status, count(*) FROM orders GROUP BY ALL").fetchall())
    assert {"paid", "refunded", "partially_refunded", "cancelled"} <= statuses.keys()
    # A refund is a restatement: same order id, later row, 0 < refunded <= total.
    bad = con.execute("""
        SELECT count(*) FROM orders r JOIN orders p USING (organization, order_id)
        WHERE r.status IN ('refunded', 'partially_refunded') AND p.status = 'paid'
          AND NOT (r.refunded > 0 AND r.refunded <= r.total AND r.total = p.total)""").fetchone()[0]
    restated = con.execute("SELECT count(*) FROM orders WHERE status LIKE '%refunded'").fetchone()[0]
    assert restated and bad == 0
    assert con.execute("SELECT count(DISTINCT currency) FROM orders").fetchone()[0] >= 7
    assert con.execute("SELECT min(total) FROM orders").fetchone()[0] >= 0
    formats = {p.suffix for p in (generated["out"] / "inbox").glob("*/orders/orders_*")}
    assert formats == {".csv", ".ndjson", ".parquet"}


def test_buyer_process_is_bg_nbd_with_overdispersed_rates():
    """At a size where statistics are stable: heterogeneity well above a Poisson-only world."""
    rng = stream(1, "test")
    model = MODELS["ecommerce"]
    as_of = 2_000 * 86400
    signup = np.sort(rng.integers(0, as_of - 400 * 86400, 20_000))
    tenure = (as_of - signup) / 86400 - 20
    alpha = calibrate_alpha(model, tenure, 2.0)
    assert float(expected_repeats(tenure, model.r, alpha, model.a, model.b).mean()) == pytest.approx(2.0, rel=0.02)
    buys = simulate(rng, model, alpha, signup, as_of, buyer_share=1.0)
    counts = buys.orders_per_contact[buys.orders_per_contact > 0]
    assert counts.mean() - 1 == pytest.approx(2.0, rel=0.15)  # the simulation matches the closed form
    assert 0.3 < (counts >= 2).mean() < 0.8
    first = np.full(len(signup), as_of)
    np.minimum.at(first, buys.customer, buys.at)
    years = (as_of - first[buys.orders_per_contact > 0]) / (365 * 86400)
    rate = counts / years
    poisson = rng.poisson(rate.mean() * years) / years
    assert rate.std() / rate.mean() > 1.5 * (poisson.std() / poisson.mean())
    assert not buys.alive[buys.orders_per_contact > 3].all()  # some buyers drop out


# ----------------------------------------------------------------------------- messaging


def test_campaigns_sends_events_and_suppressions_agree(engine, generated):
    with engine.connect() as conn:
        sends = {s.send_id: s for s in conn.execute(select(Send)).all()}
        events = conn.execute(select(Event)).all()
        suppressed = {(s.organization_id, s.channel, s.address) for s in conn.execute(select(Suppression)).all()}
        campaigns = conn.execute(select(Campaign)).all()
        statuses = dict(conn.execute(select(Contact.id, Contact.status)).all())
    assert {s.status for s in sends.values()} == {"sent", "held_out"}
    assert any(s.variant == "B" for s in sends.values())
    assert all(e.send_id in sends and sends[e.send_id].status == "sent" for e in events)
    assert {e.event_type for e in events} >= {"sent", "delivered", "opened"}
    assert any(e.payload.get("sg_machine_open") for e in events if e.event_type == "opened")
    assert any((e.received_at - e.occurred_at).days >= 2 for e in events)  # late arrivals
    for e in events:
        assert e.contact_id == sends[e.send_id].contact_id
        if e.event_type in ("unsubscribed", "complained") or (e.event_type == "bounced" and e.payload.get("type") == "bounce"):
            assert (e.organization_id, "email", e.payload["email"].lower()) in suppressed
            assert statuses[e.contact_id] in {"unsubscribed", "complained", "bounced"}
    # File events point at real sends too, with duplicates of the same sg_event_id.
    seen, dupes, bots = set(), 0, 0
    for path in (generated["out"] / "inbox").glob("*/events/sendgrid/*.json"):
        for event in json.loads(path.read_text()):
            assert uuid.UUID(event["send_id"]) in sends
            dupes += event["sg_event_id"] in seen
            seen.add(event["sg_event_id"])
            bots += event["event"] == "click" and event["useragent"] in BOT_USER_AGENTS
    bots += sum(e.event_type == "clicked" and e.payload["useragent"] in BOT_USER_AGENTS for e in events)
    assert seen and dupes > 0 and bots > 0
    twilio = list((generated["out"] / "inbox").glob("*/events/twilio/*.csv"))
    assert twilio and twilio[0].read_text().startswith("MessageSid,AccountSid,From,To,MessageStatus,ErrorCode")
    holdouts = [c for c in campaigns if c.holdout_percent > 0]
    assert holdouts and any(c.variants for c in campaigns)
    autos = [c for c in campaigns if c.trigger_mode == "automation"]
    assert {c.name for c in autos} == {"Welcome series", "Abandoned cart"}
    welcome = next(c for c in autos if c.name == "Welcome series")
    assert [s["delay_days"] for s in welcome.automation_steps] == [0, 3, 7]
    assert {c.status for c in autos} <= {"draft", "scheduled"}


def test_dirty_manifest_lists_real_files(generated):
    inbox = generated["out"] / "inbox"
    manifest = json.loads((inbox / "_dirty_manifest.json").read_text())
    paths = {f["path"] for f in manifest["files"]}
    on_disk = {str(p.relative_to(inbox)) for p in inbox.rglob("dirty_*")}
    assert paths == on_disk
    reasons = {b["reason"] for f in manifest["files"] for b in f["bad_rows"]} | {
        f["file_error"] for f in manifest["files"] if f["file_error"]}
    assert reasons <= manifest["reason_codes"].keys()
    assert {"invalid_email", "duplicate_email", "bad_date", "negative_amount", "unknown_currency", "unknown_status",
            "missing_required", "empty_file", "unsupported_format", "corrupt_file", "field_too_large"} <= reasons
    for entry in manifest["files"]:
        assert all(1 <= b["row"] <= entry["rows"] for b in entry["bad_rows"]), entry["path"]
    latin = inbox / next(p for p in paths if p.endswith("dirty_contacts_latin1.csv"))
    with pytest.raises(UnicodeDecodeError):
        latin.read_text(encoding="utf-8")
    assert (inbox / next(p for p in paths if p.endswith("orders_bom.csv"))).read_bytes().startswith(b"\xef\xbb\xbf")


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_files_and_database(gen_sqlite, tmp_path):
    again = {"url": f"sqlite:///{tmp_path / 'beacon.db'}", "out": tmp_path}
    summary = _run(again["url"], tmp_path)
    assert summary == {**gen_sqlite["summary"], "out": str(tmp_path)}
    assert _file_hashes(tmp_path / "inbox") == _file_hashes(gen_sqlite["out"] / "inbox")
    first, second = make_engine(gen_sqlite["url"]), make_engine(again["url"])
    assert table_digests(first) == table_digests(second)
    first.dispose(), second.dispose()
    with pytest.raises(AlreadyGenerated, match="empty database"):
        _run(again["url"], tmp_path)
    assert _file_hashes(tmp_path / "inbox") == _file_hashes(gen_sqlite["out"] / "inbox")  # refused before touching files


@pytest.mark.postgres
def test_same_seed_gives_the_same_database_on_sqlite_and_postgres(gen_sqlite, gen_postgres):
    lite, pg = make_engine(gen_sqlite["url"]), make_engine(gen_postgres["url"])
    assert table_digests(lite) == table_digests(pg)
    lite.dispose(), pg.dispose()
    assert _file_hashes(gen_sqlite["out"] / "inbox") == _file_hashes(gen_postgres["out"] / "inbox")


def test_cli_generate(tmp_path, monkeypatch):
    monkeypatch.setenv("BEACON_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BEACON_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["generate", "--scale", "tiny", "--contacts", "120", "--orders", "200",
                                       "--events", "300", "--seed", "3"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["tables"]["contacts"] >= 120 and summary["files"]["orders_csv"] > 0
    assert (tmp_path / "home" / "beacon.db").exists() and (tmp_path / "home" / "inbox" / "_dirty_manifest.json").exists()
    bad = CliRunner().invoke(main, ["generate", "--as-of", "2026-11-01"])
    assert bad.exit_code != 0 and "UTC offset" in bad.output
