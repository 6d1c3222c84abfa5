"""Contact search (``GET /v1/contacts?q=``) by trigram index instead of a scan of the tenant

``q`` matches a substring of the normalised email or of "first last". Measured by
bench/bench_contacts_list.py at 100k contacts, the scan's p99 was 64 ms on SQLite and 37 ms on
PostgreSQL (goal 50 ms). PostgreSQL: pg_trgm GIN indexes on the two searched expressions (the
query in api/contacts/repository.py spells them exactly so, constants inline, so the planner
matches them). SQLite: an FTS5 table with the trigram tokenizer, kept by triggers (bulk inserts
index a chunk at once instead, see beacon.store.contacts), whose rowid is the contact's id; the
query narrows to its matches and still applies the LIKE, so results are as before. Erasing a contact's personal data updates its row here too (the update trigger).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_NAME = "coalesce(first_name, '') || ' ' || coalesce(last_name, '')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # a trusted extension: the database owner may create it
        op.execute("CREATE INDEX ix_contacts_search_email ON contacts USING gin (email_normalized gin_trgm_ops)")
        op.execute(f"CREATE INDEX ix_contacts_search_name ON contacts USING gin ((lower({_NAME})) gin_trgm_ops)")
        return
    op.execute("CREATE VIRTUAL TABLE contacts_search USING fts5(email, name, tokenize='trigram')")
    # Bulk inserts (beacon.store.contacts) pause the row trigger with a row here and index a chunk at once.
    op.execute("CREATE TABLE contacts_search_paused (paused INTEGER)")
    op.execute(f"INSERT INTO contacts_search (rowid, email, name) SELECT id, email_normalized, {_NAME} FROM contacts")
    new_row = f"new.id, new.email_normalized, {_NAME.replace('first_name', 'new.first_name').replace('last_name', 'new.last_name')}"
    op.execute(f"""CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
        WHEN NOT EXISTS (SELECT 1 FROM contacts_search_paused) BEGIN
        INSERT INTO contacts_search (rowid, email, name) VALUES ({new_row}); END""")
    op.execute("""CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN
        DELETE FROM contacts_search WHERE rowid = old.id; END""")
    op.execute(f"""CREATE TRIGGER contacts_search_update AFTER UPDATE OF email_normalized, first_name, last_name
        ON contacts BEGIN
        DELETE FROM contacts_search WHERE rowid = old.id;
        INSERT INTO contacts_search (rowid, email, name) VALUES ({new_row}); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_contacts_search_name")
        op.execute("DROP INDEX IF EXISTS ix_contacts_search_email")
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS contacts_search_{trigger}")
    op.execute("DROP TABLE IF EXISTS contacts_search")
    op.execute("DROP TABLE IF EXISTS contacts_search_paused")
