"""campaigns.content_variables: the campaign's own template variables (an offer, a call-to-action link)

Templates declare required variables; without a place for the campaign to give them, a platform
template such as ``promotion`` (offer, cta_url) could not be sent.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column(
            "content_variables", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            server_default="{}", nullable=False,
        ))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("content_variables")
