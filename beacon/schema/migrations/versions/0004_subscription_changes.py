"""subscription_changes: plan and billing-cycle history, for prorating billing periods

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _cycle() -> sa.Enum:
    return sa.Enum("monthly", "yearly", name="billingcycle", native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "subscription_changes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("organization_id", BigId, nullable=False),
        sa.Column("subscription_id", BigId, nullable=False),
        sa.Column("from_plan_id", BigId, nullable=False),
        sa.Column("to_plan_id", BigId, nullable=False),
        sa.Column("from_billing_cycle", _cycle(), nullable=False),
        sa.Column("to_billing_cycle", _cycle(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_subscription_changes_organization_id_organizations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], name=op.f("fk_subscription_changes_subscription_id_subscriptions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["from_plan_id"], ["plans.id"], name=op.f("fk_subscription_changes_from_plan_id_plans")),
        sa.ForeignKeyConstraint(["to_plan_id"], ["plans.id"], name=op.f("fk_subscription_changes_to_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_changes")),
    )
    op.create_index(op.f("ix_subscription_changes_organization_id"), "subscription_changes", ["organization_id"], unique=False)
    op.create_index("ix_subscription_changes_subscription", "subscription_changes", ["subscription_id", "effective_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_subscription_changes_subscription", table_name="subscription_changes")
    op.drop_index(op.f("ix_subscription_changes_organization_id"), table_name="subscription_changes")
    op.drop_table("subscription_changes")
