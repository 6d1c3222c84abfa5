"""The operational schema upgrades from empty, matches the models, seeds reference data and downgrades."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from beacon.schema import migrate
from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import Base, ContactTypeTemplate, OrganizationType, Plan, Template
from beacon.schema.seed_data import ORGANIZATION_TYPES, PLANS


def test_upgrade_matches_models_and_downgrades(op_db_url):
    migrate.upgrade(op_db_url)
    engine = make_engine(op_db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False, "include_name": migrate.modelled}), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"

    migrate.downgrade(op_db_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(op_db_url)  # and back up again, cleanly
    assert "sends" in inspect(engine).get_table_names()
    engine.dispose()


def test_reference_data_is_seeded(migrated_db):
    engine = make_engine(migrated_db)
    with session_scope(engine) as session:
        types = {t.code: t for t in session.scalars(select(OrganizationType))}
        assert set(types) == set(ORGANIZATION_TYPES)
        church = [t.name for t in types["church"].contact_type_templates]
        assert church == ["New Member", "Visitor", "Member", "Volunteer", "Donor", "Inactive"]
        assert session.scalar(select(func.count()).select_from(ContactTypeTemplate)) == 19
        assert {p.code for p in session.scalars(select(Plan))} == {p["code"] for p in PLANS}
        platform = session.scalars(select(Template).where(Template.organization_id.is_(None))).all()
        assert {t.code for t in platform} >= {"newsletter", "welcome", "abandoned_cart"}
    engine.dispose()
