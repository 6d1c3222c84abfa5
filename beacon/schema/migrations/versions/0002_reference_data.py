"""reference data: organization types with contact-type templates, plans, platform templates

Revision ID: 0002
Revises: 0001
"""

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from beacon.schema.seed_data import ORGANIZATION_TYPES, PLANS, PLATFORM_TEMPLATES, contact_type_code

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Lightweight table shapes: a data migration must not depend on today's models.
organization_types = sa.table("organization_types", sa.column("id"), sa.column("code"), sa.column("name"))
contact_type_templates = sa.table(
    "contact_type_templates",
    sa.column("organization_type_id"), sa.column("code"), sa.column("name"), sa.column("position"),
)


def _typed(name: str, value: object) -> sa.ColumnClause:
    # Typed columns so Decimal and list values bind on every driver (SQLite has no DECIMAL).
    kind = {Decimal: sa.Numeric(14, 4), list: sa.JSON(), int: sa.BigInteger()}.get(type(value), sa.String())
    return sa.column(name, kind)


plans = sa.table("plans", *(_typed(name, value) for name, value in PLANS[0].items()))
templates = sa.table(
    "templates", sa.column("organization_id"), sa.column("created_at"), sa.column("updated_at"),
    *(_typed(name, value) for name, value in PLATFORM_TEMPLATES[0].items()),
)


def upgrade() -> None:
    bind = op.get_bind()
    for code, (name, contact_types) in ORGANIZATION_TYPES.items():
        type_id = bind.execute(
            organization_types.insert().values(code=code, name=name).returning(organization_types.c.id)
        ).scalar_one()
        op.bulk_insert(
            contact_type_templates,
            [
                {"organization_type_id": type_id, "code": contact_type_code(ct), "name": ct, "position": i}
                for i, ct in enumerate(contact_types)
            ],
        )
    op.bulk_insert(plans, PLANS)
    now = sa.func.now()
    for template in PLATFORM_TEMPLATES:
        bind.execute(templates.insert().values(organization_id=None, created_at=now, updated_at=now, **template))


def downgrade() -> None:
    op.execute(templates.delete().where(templates.c.organization_id.is_(None)))
    op.execute(plans.delete())
    op.execute(contact_type_templates.delete())
    op.execute(organization_types.delete())
