"""Tenants: organizations of every type with heavy-tailed sizes, users, memberships, plans, overrides."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from beacon.generate.rng import stream
from beacon.schema.models import Membership, Plan, Subscription, Template, User
from beacon.schema.seed_data import ORGANIZATION_TYPES, PLANS
from beacon.store.organizations import contact_type_ids, create_organization
from beacon.tenancy import OrgId

# (home country, currency, timezone): cycled so even the tiny scale covers every currency.
HOMES = [
    ("US", "USD", "America/New_York"), ("GB", "GBP", "Europe/London"), ("ES", "EUR", "Europe/Madrid"),
    ("CA", "CAD", "America/Toronto"), ("AU", "AUD", "Australia/Sydney"), ("BR", "BRL", "America/Sao_Paulo"),
    ("JP", "JPY", "Asia/Tokyo"), ("MX", "USD", "America/Mexico_City"), ("DE", "EUR", "Europe/Berlin"),
    ("US", "USD", "America/Los_Angeles"), ("FR", "EUR", "Europe/Paris"), ("IE", "EUR", "Europe/Dublin"),
]
NAMES = {
    "church": ["Grace Community Church", "St. Mark's Parish", "Iglesia Nueva Vida", "Harbour City Church",
               "Riverside Fellowship", "Hope Chapel"],
    "ecommerce": ["Northwind Outfitters", "Maple & Thread", "Casa Verde Shop", "Kite Supply Co.",
                  "Sakura Goods", "Bramble Home"],
    "saas": ["Ledgerly", "Pipewise", "Formstack Labs", "Tallyhub", "Signalpath", "Queuebird"],
    "nonprofit": ["Clean Rivers Trust", "Open Books Foundation", "Fundación Luz", "Shelter Together",
                  "Bright Minds Alliance", "Coastal Rescue"],
}
ROLES_IN_ORDER = ["admin", "manager", "marketer", "viewer", "marketer"]
STREETS = ["Main Street", "High Street", "Calle Mayor", "King Street", "Rua Augusta", "Queen Street", "Elm Avenue"]


@dataclass
class Tenant:
    index: int
    org: OrgId
    slug: str
    name: str
    type_code: str
    country: str
    currency: str
    timezone: str
    domain: str
    contacts: int
    created_at: datetime
    contact_types: dict[str, int]


def heavy_tailed_sizes(rng: np.random.Generator, tenants: int, total: int, minimum: int) -> list[int]:
    """Split ``total`` contacts over tenants with a Pareto tail: a few big tenants, many small."""
    weights = rng.pareto(1.1, size=tenants) + 0.05
    shares = weights / weights.sum()
    sizes = np.maximum(minimum, np.floor(shares * total)).astype(int)
    return [int(s) for s in sizes]


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower().replace("&", "and")).strip("-").replace("--", "-")


def create_tenants(session: Session, *, seed: int, tenants_per_type: int, contacts: int, as_of: datetime) -> list[Tenant]:
    rng = stream(seed, "tenants")
    count = tenants_per_type * len(ORGANIZATION_TYPES)
    sizes = heavy_tailed_sizes(rng, count, contacts, minimum=max(10, contacts // (count * 20)))
    plans = {code: id_ for code, id_ in session.execute(select(Plan.code, Plan.id))}
    tenants: list[Tenant] = []
    user_rows: list[dict] = []
    membership_rows: list[dict] = []
    subscription_rows: list[dict] = []
    override_rows: list[dict] = []
    index = 0
    for type_code in ORGANIZATION_TYPES:
        for k in range(tenants_per_type):
            base = NAMES[type_code][k % len(NAMES[type_code])]
            name = base if k < len(NAMES[type_code]) else f"{base} {k // len(NAMES[type_code]) + 1}"
            slug = _slug(name)
            country, currency, timezone = HOMES[index % len(HOMES)]
            domain = f"{slug}.example"
            created_at = as_of - timedelta(days=int(760 + rng.integers(0, 400)), seconds=int(rng.integers(0, 86400)))
            cap = int(rng.choice([2, 3, 4, 7]))
            org, organization = create_organization(
                session,
                type_code=type_code,
                name=name,
                slug=slug,
                timezone=timezone,
                currency=currency,
                domain=domain,
                postal_address=f"{int(rng.integers(1, 999))} {STREETS[index % len(STREETS)]}, {country}",
                settings={"frequency_cap": {"max_messages": cap, "window_days": 7}, "default_language": "en"},
                branding={"primary_color": f"#{int(rng.integers(0, 0xFFFFFF)):06x}", "logo_url": f"https://{domain}/logo.png"},
            )
            # create_organization leaves timestamps to the server clock; pin them for determinism.
            organization.created_at = organization.updated_at = created_at
            session.flush()
            tenant = Tenant(index, org, slug, name, type_code, country, currency, timezone, domain, sizes[index],
                            created_at, contact_type_ids(session, org))
            tenants.append(tenant)
            user_rows_for, membership_rows_for = _users(rng, tenant, len(user_rows))
            user_rows += user_rows_for
            membership_rows += membership_rows_for
            subscription_rows.append(_subscription(rng, tenant, plans, as_of))
            if index % 2 == 0:
                override_rows += _template_overrides(tenant)
            index += 1
    # One agency user works for the first tenant of every type (a user with several memberships).
    agency = {"email": "ops@agency.example", "full_name": "Agency Operator", "password_hash": None, "is_active": True,
              "created_at": as_of - timedelta(days=900), "updated_at": as_of - timedelta(days=900)}
    user_ids = _insert_users(session, user_rows + [agency])
    agency_id = user_ids[-1]
    memberships = [dict(m, user_id=user_ids[m.pop("user_index")]) for m in membership_rows]
    memberships += [
        {"organization_id": t.org, "user_id": agency_id, "role": "marketer", "created_at": t.created_at,
         "updated_at": t.created_at}
        for t in tenants if t.index % tenants_per_type == 0
    ]
    session.execute(insert(Membership.__table__), memberships)
    session.execute(insert(Subscription.__table__), subscription_rows)
    if override_rows:
        session.execute(insert(Template.__table__), override_rows)
    return tenants


def _users(rng: np.random.Generator, tenant: Tenant, offset: int) -> tuple[list[dict], list[dict]]:
    people = ["alex", "sam", "jordan", "casey", "robin"]
    n = int(rng.integers(2, 6))
    users, memberships = [], []
    for i in range(n):
        joined = tenant.created_at + timedelta(days=int(rng.integers(0, 120)))
        users.append({"email": f"{people[i]}@{tenant.domain}", "full_name": f"{people[i].title()} ({tenant.name})",
                      "password_hash": None, "is_active": bool(i < 4 or rng.random() < 0.5),
                      "created_at": joined, "updated_at": joined})
        memberships.append({"organization_id": tenant.org, "user_index": offset + i, "role": ROLES_IN_ORDER[i],
                            "created_at": joined, "updated_at": joined})
    return users, memberships


def _insert_users(session: Session, rows: list[dict]) -> list[int]:
    statement = insert(User.__table__).returning(User.__table__.c.id, sort_by_parameter_order=True)
    return list(session.execute(statement, rows).scalars())


def _subscription(rng: np.random.Generator, tenant: Tenant, plans: dict[str, int], as_of: datetime) -> dict:
    limits = {p["code"]: p["contact_limit"] for p in PLANS}
    plan = next((code for code in ("starter", "growth", "scale") if tenant.contacts <= limits[code]), "scale")
    status = ["active", "active", "active", "trialing", "past_due"][tenant.index % 5]
    yearly = tenant.index % 3 == 2
    period = timedelta(days=365 if yearly else 30)
    start = as_of - timedelta(days=int(rng.integers(1, 28)))
    return {
        "organization_id": tenant.org, "plan_id": plans[plan], "status": status,
        "billing_cycle": "yearly" if yearly else "monthly",
        "current_period_start": start, "current_period_end": start + period, "cancel_at": None,
        "stripe_customer_id": None, "stripe_subscription_id": None,
        "created_at": tenant.created_at, "updated_at": start,
    }


def _template_overrides(tenant: Tenant) -> list[dict]:
    footer = '<p style="font-size:11px">{{ organization.name }} · {{ organization.postal_address }} · ' \
             '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
    rows = [{
        "organization_id": tenant.org, "code": "newsletter", "language": "en", "channel": "email",
        "category": "newsletter", "subject": f"News from {tenant.name}",
        "html_body": "<h1>{{ organization.name }}</h1><p>{{ body }}</p><a href=\"{{ cta_url }}\">More</a>" + footer,
        "text_body": "{{ body }}\n{{ cta_url }}", "required_variables": ["body", "cta_url"],
        "created_at": tenant.created_at, "updated_at": tenant.created_at,
    }]
    if tenant.country in {"ES", "MX"}:
        rows.append({**rows[0], "language": "es", "subject": f"Novedades de {tenant.name}"})
    return rows
