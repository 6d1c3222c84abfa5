"""A new organization gets its contact types copied from its type's templates; emails are unique per tenant."""

import pytest
from sqlalchemy.exc import IntegrityError

from beacon.schema.db import make_engine, session_scope
from beacon.schema.models import Contact
from beacon.store.organizations import UnknownOrganizationType, contact_type_ids, create_organization


def test_contact_types_copied_from_templates(migrated_db):
    engine = make_engine(migrated_db)
    with session_scope(engine) as session:
        shop, _ = create_organization(session, type_code="ecommerce", name="Shop", slug="shop")
        church, _ = create_organization(session, type_code="church", name="Grace", slug="grace")
        assert list(contact_type_ids(session, shop)) == ["lead", "prospect", "customer", "vip_customer", "churned"]
        assert "new_member" in contact_type_ids(session, church)
        with pytest.raises(UnknownOrganizationType, match="'bakery'"):
            create_organization(session, type_code="bakery", name="B", slug="b")
    engine.dispose()


def test_email_identity_is_per_tenant(migrated_db):
    engine = make_engine(migrated_db)
    with session_scope(engine) as session:
        a, _ = create_organization(session, type_code="saas", name="A", slug="a")
        b, _ = create_organization(session, type_code="saas", name="B", slug="b")
        session.add_all(
            [
                Contact(organization_id=a, email="Ann@X.io", email_normalized="ann@x.io"),
                Contact(organization_id=b, email="ann@x.io", email_normalized="ann@x.io"),
            ]
        )
    with pytest.raises(IntegrityError):
        with session_scope(engine) as session:
            session.add(Contact(organization_id=a, email="ANN@x.io", email_normalized="ann@x.io"))
    engine.dispose()
