"""A 2xx is only sent after the unit of work commits: if the commit fails, the client sees an error."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from beacon.schema.models import Event
from beacon.tokens import TokenKind, sign
from tests.api.conftest import make_message, read


class CommitFails(RuntimeError):
    pass


@pytest.fixture
def failing_commits(app, db):
    def factory():
        session = db()

        def commit():
            raise CommitFails("database went away")

        session.commit = commit
        return session

    app.state.session_factory = factory


def test_open_pixel_is_not_served_when_the_event_is_not_committed(app, db, tenant_a, failing_commits):
    message = make_message(db, tenant_a)
    token = sign(TokenKind.open, message.send_id, ["test-key-new"])
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(f"/t/o/{token}.gif")
        unsubscribe = client.post(f"/u/{sign(TokenKind.unsubscribe, message.send_id, ['test-key-new'])}")
    assert response.status_code == 500 and response.json() == {"error": {"code": "internal_error", "message": "internal error", "details": []}}
    assert unsubscribe.status_code == 500
    assert read(db, select(Event.id)) == []
