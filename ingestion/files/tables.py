"""DDL for the raw tables ingestion writes. Portable SQL: the same text runs on DuckDB and PostgreSQL.

``raw`` is append-only landing: values are typed (timestamps in UTC, decimals) but not modelled;
dbt staging reads from here. Each loaded row keeps ``source_file``/``source_line``/``file_sha256``
so it traces back to its file and line, and ``raw.file_loads`` proves nothing was lost.
"""

from __future__ import annotations

from ingestion.quarantine import QUARANTINE_DDL

ORDERS_DDL = """
CREATE TABLE IF NOT EXISTS raw.orders (
    order_id              VARCHAR(128) NOT NULL,
    organization          VARCHAR(80) NOT NULL,
    organization_id       BIGINT NOT NULL,
    customer_email        VARCHAR(320),
    customer_external_id  VARCHAR(128),
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    currency              CHAR(3) NOT NULL,
    subtotal              DECIMAL(14, 4),
    discount              DECIMAL(14, 4),
    tax                   DECIMAL(14, 4),
    shipping              DECIMAL(14, 4),
    total                 DECIMAL(14, 4) NOT NULL,
    refunded_amount       DECIMAL(14, 4) NOT NULL,
    status                VARCHAR(32) NOT NULL,
    lines                 TEXT,
    source_file           TEXT NOT NULL,
    source_line           BIGINT NOT NULL,
    file_sha256           CHAR(64) NOT NULL,
    loaded_at             TIMESTAMPTZ NOT NULL
)
"""

PROVIDER_EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS raw.provider_events (
    provider           VARCHAR(20) NOT NULL,
    provider_event_id  VARCHAR(200) NOT NULL,
    provider_event     VARCHAR(40) NOT NULL,
    event_type         VARCHAR(40) NOT NULL,
    occurred_at        TIMESTAMPTZ NOT NULL,
    send_id            VARCHAR(36),
    organization_id    BIGINT NOT NULL,
    campaign_id        VARCHAR(64),
    email              VARCHAR(320),
    phone              VARCHAR(32),
    url                TEXT,
    user_agent         TEXT,
    is_machine_open    BOOLEAN,
    bounce_type        VARCHAR(10),
    error_code         VARCHAR(20),
    payload            TEXT NOT NULL,
    source_file        TEXT NOT NULL,
    source_line        BIGINT NOT NULL,
    file_sha256        CHAR(64) NOT NULL,
    loaded_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (provider, provider_event_id)
)
"""

FILE_LOADS_DDL = """
CREATE TABLE IF NOT EXISTS raw.file_loads (
    source            VARCHAR(32) NOT NULL,
    organization      VARCHAR(80),
    file_path         TEXT NOT NULL,
    file_sha256       CHAR(64) NOT NULL,
    file_size         BIGINT NOT NULL,
    file_format       VARCHAR(16),
    encoding          VARCHAR(32),
    delimiter         VARCHAR(4),
    rows_read         BIGINT NOT NULL,
    rows_loaded       BIGINT NOT NULL,
    rows_quarantined  BIGINT NOT NULL,
    rows_duplicate    BIGINT NOT NULL,
    status            VARCHAR(16) NOT NULL,
    reason            TEXT,
    loaded_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (file_path, file_sha256)
)
"""

RAW_TABLES_DDL = (ORDERS_DDL, PROVIDER_EVENTS_DDL, FILE_LOADS_DDL, QUARANTINE_DDL)
