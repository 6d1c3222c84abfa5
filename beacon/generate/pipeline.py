"""The generator's main loop: tenants, then per tenant contacts → orders → messaging, streamed in chunks."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from beacon.generate.audience import build_chunk, signup_times
from beacon.generate.buyers import DAY, MODELS, calibrate_alpha, simulate
from beacon.generate.config import GenerateConfig
from beacon.generate.dirty import DirtySet
from beacon.generate.files import contact_import_rows, write_csv, write_xlsx
from beacon.generate.messaging import Messaging, TenantAudience
from beacon.generate.orders import OrdersWriter, order_states
from beacon.generate.rng import stream
from beacon.generate.tenants import Tenant, create_tenants
from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import Base, Organization
from beacon.store.contacts import insert_contacts

SUMMARY_TABLES = ["organizations", "users", "memberships", "subscriptions", "contact_types", "contacts", "lists",
                  "list_members", "segments", "templates", "campaigns", "sends", "events", "suppressions"]


class AlreadyGenerated(RuntimeError):
    pass


class BuyerStats:
    """Per-buyer order counts and tenures, for the summary's repeat-purchase figures."""

    def __init__(self) -> None:
        self.counts: list[np.ndarray] = []
        self.tenure_days: list[np.ndarray] = []

    def add(self, orders: np.ndarray, first_purchase: np.ndarray, as_of_ts: int) -> None:
        self.counts.append(orders)
        self.tenure_days.append((as_of_ts - first_purchase) / DAY)

    def figures(self) -> dict:
        if not self.counts:
            return {"buyers": 0}
        counts = np.concatenate(self.counts)
        tenure = np.concatenate(self.tenure_days)
        mature = tenure >= 180  # rates of brand-new buyers are mostly noise
        rate = counts[mature] / tenure[mature]
        # Poisson-only baseline: everyone shares the mean rate; the CV then comes from chance alone.
        rng = np.random.default_rng(0)
        baseline = rng.poisson(rate.mean() * tenure[mature]) / tenure[mature] if mature.any() else np.zeros(1)
        return {
            "buyers": int(len(counts)),
            "orders_per_buyer": round(float(counts.mean()), 3),
            "repeat_buyer_share": round(float((counts >= 2).mean()), 4),
            "purchase_rate_cv": round(float(rate.std() / rate.mean()), 3) if mature.any() else None,
            "poisson_baseline_cv": round(float(baseline.std() / baseline.mean()), 3) if mature.any() else None,
        }


def _reset_inbox(inbox: Path) -> None:
    # Only the generator's own output folder is cleared, so reruns do not mix old and new files.
    if inbox.exists():
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True)


def generate(config: GenerateConfig) -> dict:
    targets = config.targets
    config.out.mkdir(parents=True, exist_ok=True)
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(config.database_url)
    engine = make_engine(config.database_url)
    with engine.connect() as conn:
        if conn.scalar(select(func.count()).select_from(Organization)):
            engine.dispose()
            raise AlreadyGenerated("the operational DB already has organizations: generate into an empty database")
    _reset_inbox(config.inbox)  # only once we know this is a fresh generation
    files = Counter()
    file_rows = Counter()
    buyers = BuyerStats()
    messaging_counts = Counter()
    try:
        with session_scope(engine) as session:
            tenants = create_tenants(session, seed=config.seed, tenants_per_type=targets.tenants_per_type,
                                     contacts=targets.contacts, as_of=config.as_of)
        total_contacts = sum(t.contacts for t in tenants)
        dirty_emails: list[str] = []
        for tenant in tenants:
            with session_scope(engine) as session:
                share = tenant.contacts / max(total_contacts, 1)
                aud = _tenant_contacts_and_orders(session, config, tenant, int(targets.orders * share), buyers, files, file_rows)
                if tenant.type_code == "ecommerce" and not dirty_emails:
                    dirty_emails = [e for e in aud.email[:200] if e]
                _contact_import_file(config, tenant, files, file_rows)
                messaging = Messaging(session, tenant, aud, stream(config.seed, "messaging", tenant.slug),
                                      config.as_of, config.inbox)
                messaging.campaigns(targets.campaigns_per_tenant, int(targets.events * share))
                messaging_counts.update(messaging.counts)
        first_shop = next(t for t in tenants if t.type_code == "ecommerce")
        dirty = DirtySet(config.inbox, first_shop.slug, first_shop.currency, dirty_emails, config.as_of)
        dirty.orders()
        dirty.contacts()
        dirty.write_manifest(config.seed)
        with engine.connect() as conn:
            tables = {name: conn.scalar(select(func.count()).select_from(Base.metadata.tables[name]))
                      for name in SUMMARY_TABLES}
    finally:
        engine.dispose()
    files["sendgrid_json"] += messaging_counts.pop("sendgrid_files", 0)
    files["twilio_csv"] += messaging_counts.pop("twilio_files", 0)
    file_rows["sendgrid_events"] += messaging_counts.pop("sendgrid_events", 0)
    file_rows["twilio_events"] += messaging_counts.pop("twilio_events", 0)
    files["dirty"] = len(dirty.files)
    return {
        "seed": config.seed, "scale": config.scale, "as_of": config.as_of.isoformat(), "out": str(config.out),
        "tenants": len(tenants), "tables": tables, "files": dict(sorted(files.items())),
        "file_rows": dict(sorted(file_rows.items())), "events": dict(sorted(messaging_counts.items())),
        "repeat_purchase": buyers.figures(),
    }


def _tenant_contacts_and_orders(session, config: GenerateConfig, tenant: Tenant, orders_target: int,
                                buyers: BuyerStats, files: Counter, file_rows: Counter) -> TenantAudience:
    as_of_ts = int(config.as_of.timestamp())
    rng = stream(config.seed, "contacts", tenant.slug)
    order_rng = stream(config.seed, "orders", tenant.slug)
    model = MODELS[tenant.type_code]
    signup = signup_times(rng, tenant.contacts, config.as_of)
    # Calibrate the purchase-rate scale so the tenant lands near its share of the orders target.
    buyers_expected = max(1.0, tenant.contacts * model.buyer_share)
    tenure_sample = np.clip((as_of_ts - signup[:: max(1, len(signup) // 2000)]) / DAY - 20, 1, None)
    alpha = calibrate_alpha(model, tenure_sample, orders_target / buyers_expected - 1)
    writer = OrdersWriter(config.inbox, tenant, config.as_of)
    parts: dict[str, list] = {k: [] for k in ("ids", "signup", "email", "phone", "consent_email", "consent_sms",
                                              "status", "engagement", "updated")}
    seq = 1
    for start in range(0, tenant.contacts, config.chunk_size):
        chunk_signup = signup[start : start + config.chunk_size]
        purchases = simulate(order_rng, model, alpha, chunk_signup, as_of_ts, model.buyer_share)
        chunk = build_chunk(tenant, rng, chunk_signup, start, config.as_of, purchases.orders_per_contact, purchases.alive)
        chunk.ids = np.asarray(insert_contacts(session, tenant.org, chunk.rows), dtype=np.int64)
        erased = np.array([row["erased_at"] is not None for row in chunk.rows])
        table, months, created, updated, seq = order_states(
            order_rng, tenant, purchases, chunk.email, chunk.external_id, erased, seq, as_of_ts, writer.offset)
        if months:
            writer.write(table, months, created, updated)
        is_buyer = (purchases.orders_per_contact > 0) & ~erased
        first = np.full(len(chunk_signup), as_of_ts)
        np.minimum.at(first, purchases.customer, purchases.at)
        buyers.add(purchases.orders_per_contact[is_buyer], first[is_buyer], as_of_ts)
        parts["ids"].append(chunk.ids)
        parts["signup"].append(chunk_signup)
        parts["email"] += chunk.email
        parts["phone"] += chunk.phone
        parts["consent_email"].append(chunk.consent_email)
        parts["consent_sms"].append(chunk.consent_sms)
        parts["status"].append(chunk.status)
        parts["engagement"].append(chunk.engagement)
        parts["updated"].append(np.array([int(r["updated_at"].timestamp()) for r in chunk.rows], dtype=np.int64))
        del chunk, table
    for fmt, rows in writer.close().items():
        if rows:
            file_rows[f"orders_{fmt}"] += rows
    for fmt in writer.formats.values():
        files[f"orders_{fmt}"] += 1
    cat = lambda key, dtype: np.concatenate(parts[key]).astype(dtype) if parts[key] else np.empty(0, dtype)  # noqa: E731
    return TenantAudience(
        ids=cat("ids", np.int64), signup=cat("signup", np.int64), email=parts["email"], phone=parts["phone"],
        consent_email=cat("consent_email", bool), consent_sms=cat("consent_sms", bool), status=cat("status", np.int64),
        engagement=cat("engagement", float), updated=cat("updated", np.int64),
    )


def _contact_import_file(config: GenerateConfig, tenant: Tenant, files: Counter, file_rows: Counter) -> None:
    """A clean import file of new sign-ups (not yet in the DB), in one of the header variants."""
    rng = stream(config.seed, "imports", tenant.slug)
    n = max(5, tenant.contacts // 50)
    signup = np.sort(int(config.as_of.timestamp()) - rng.integers(3600, 5 * DAY, n))
    chunk = build_chunk(tenant, rng, signup, tenant.contacts, config.as_of, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool))
    codes = {id_: code for code, id_ in tenant.contact_types.items()}
    header, cells = contact_import_rows(chunk.rows, codes, tenant.index, rng.random(n))
    folder = config.inbox / tenant.slug / "contacts"
    folder.mkdir(parents=True, exist_ok=True)
    if tenant.index % 2:
        write_xlsx(folder / "contacts_import.xlsx", header, cells, as_of=config.as_of)
        files["contacts_xlsx"] += 1
    else:
        write_csv(folder / "contacts_import.csv", header, cells)
        files["contacts_csv"] += 1
    file_rows["contacts_import"] += n
