"""Sending the ledger's ``pending`` rows: batched SendGrid posts, rate-limited Twilio messages.

Exactly once, per row: the row is ``pending`` in the ledger before any call; a worker commits it
as ``sending`` tagged with a fresh batch key, calls the provider, then commits ``sent`` together
with its ``sent`` event. A run killed anywhere leaves rows either ``pending`` (never sent: sent by
the next run) or ``sending`` (maybe accepted): the next run asks the provider which of those it
accepted (the fake's inspection API; :meth:`Mailer.accepted`) and only re-sends the rest. Where
the provider cannot answer (real SendGrid has no lookup by custom arg), ``RunOptions.unknown_outcome``
chooses resend (at-least-once for that window only) or fail; the window is one request long.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
from sqlalchemy import Connection, Engine

from activation import ledger
from activation.audience import JSON_DEFAULTS, JSON_FIELDS, field_columns, raw_rows, suppressed_addresses
from activation.content import UNSUB_KEY, MissingField, UNSUBSCRIBE_POST, CompiledContent, render_individual, render_sms, substitutions
from activation.providers import (
    TWILIO_INVALID_NUMBERS, TWILIO_OPTED_OUT, Mailer, PermanentError, SendGridMailer, Texter, TransientError, TwilioTexter,
)
from activation.ratelimit import SenderPool
from beacon.providers.clients import sendgrid_sandbox_mode, with_sandbox_mode
from beacon.render import TemplateProblem
from beacon.schema.models import Channel, EmailCategory, SendStatus, Suppression, SuppressionReason

log = logging.getLogger(__name__)
RENDER_ERRORS = (MissingField, TemplateProblem)
PAGE = 5_000
SMS_GROUP = 20


@dataclass(slots=True)
class Row:
    send_id: uuid.UUID
    contact_id: int
    address: str
    variant: str | None
    language: str
    fields: dict[str, Any]


@dataclass
class Outcome:
    sent: int = 0
    failed: int = 0
    reconciled: int = 0
    fatal: bool = False
    errors: list[str] = field(default_factory=list)


class Sender:
    """Sends the pending rows of one (campaign, step); with ``partition=(k, n)`` only those whose
    contact_id % n == k (:mod:`activation.fanout` runs one per process, sharing ``write_lock`` and
    ``stop`` across them)."""

    def __init__(self, engine: Engine, ctx, organization, *, mailer: Mailer | None, texter: Texter | None, options,
                 partition: tuple[int, int] | None = None, write_lock: Any = None, stop: Any = None) -> None:
        self.engine, self.ctx, self.options = engine, ctx, options
        self.organization = organization
        self.partition = partition
        self.outcome = Outcome()
        self._lock = threading.Lock()
        # SQLite has one writer at a time and its busy handler sleeps in growing steps: queue the
        # workers' write transactions here instead. PostgreSQL takes them concurrently.
        self._sqlite_writes = (write_lock or threading.Lock()) if engine.dialect.name == "sqlite" else None
        # ... and all through one connection: SQLite drops a connection's page cache whenever another
        # connection has written, so writes taking turns over the pool each started from a cold cache.
        self._writer: Connection | None = None
        self._writer_scope = ExitStack()
        self._stop = stop or threading.Event()
        self.marketing = ctx.category is not EmailCategory.transactional
        self._org_arg, self._campaign_arg = str(ctx.org), str(ctx.campaign_id)  # custom args, made once
        if ctx.channel is Channel.email:
            from beacon.settings import get_settings

            self.sandbox_mode = sendgrid_sandbox_mode(get_settings())  # validated by SendGrid, never delivered
            self.mailer = mailer or default_mailer(options.request_timeout)
            self.provider: Any = self.mailer
        else:
            self.texter = texter or default_texter()
            self.provider = self.texter
            org_settings = organization.settings or {}
            rate = options.sms_rate_per_sender or float(org_settings.get("sms_rate_per_sender", 1.0))
            self.senders = SenderPool(list(org_settings.get("sms_senders") or []), rate)

    # ------------------------------------------------------------------ driver

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        if self._sqlite_writes is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._sqlite_writes:
            if self._writer is None:
                self._writer = self._writer_scope.enter_context(self.engine.connect())
                self._writer_scope.enter_context(ledger.sqlite_writer_cache(self._writer))
            with self._writer.begin():
                yield self._writer

    def _close_writer(self) -> None:
        self._writer_scope.close()
        self._writer = None

    def run_reconcile(self) -> None:
        """Only :meth:`reconcile` (before the send phase fans out)."""
        try:
            self.reconcile()
        finally:
            self._close_writer()

    def run(self, *, reconcile: bool = True) -> Outcome:
        try:
            if reconcile:
                self.reconcile()
            work = self._email_batches() if self.ctx.channel is Channel.email else self._sms_groups()
            with ThreadPoolExecutor(max_workers=self.options.max_in_flight, thread_name_prefix="activation") as pool:
                in_flight: set[Future] = set()
                for job in work:
                    if self._stop.is_set():
                        break
                    if len(in_flight) >= self.options.max_in_flight:
                        done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                        self._collect(done)
                    in_flight.add(pool.submit(*job))
                self._collect(wait(in_flight).done)
            return self.outcome
        finally:
            self._close_writer()

    def _collect(self, done: set[Future]) -> None:
        for future in done:
            error = future.exception()
            if error is not None:
                log.exception("activation worker failed", exc_info=error)
                self._fatal(f"{type(error).__name__}: {error}")

    def _fatal(self, message: str) -> None:
        with self._lock:
            self.outcome.fatal = True
            self.outcome.errors.append(message)
        self._stop.set()

    def _count(self, sent: int = 0, failed: int = 0) -> None:
        with self._lock:
            self.outcome.sent += sent
            self.outcome.failed += failed

    # ------------------------------------------------------------------ reading pending rows

    def pending_rows(self) -> Iterator[Row]:
        """Keyset pages over the (campaign, contact, step) index: short reads, no long snapshot.

        Read through the driver's cursor: SQLAlchemy's rows and result processors (UUID, JSON) were
        ~25 µs per recipient at 50k; here the JSON columns go through orjson and only when text."""
        names = field_columns(self.ctx.contact_fields_used())
        if "language" not in names:
            names.append("language")
        json_names = [(name, JSON_DEFAULTS[name]) for name in names if name in JSON_FIELDS]
        share = ""
        if self.partition:
            k, n = int(self.partition[0]), int(self.partition[1])
            # contact_id mod n spelled with integer division: psycopg would read a '%' as a placeholder
            share = f"AND s.contact_id - (s.contact_id / {n}) * {n} = {k} "
        sql = (f"SELECT s.send_id, s.contact_id, s.address, s.variant, {', '.join('c.' + n for n in names)} "
               "FROM sends s JOIN contacts c ON c.id = s.contact_id "
               "WHERE s.campaign_id = {ph} AND s.step = {ph} AND s.contact_id > {ph} AND s.status = {ph} "
               + share + "ORDER BY s.contact_id LIMIT {ph}")
        language_at = names.index("language")
        after = -1
        while True:
            with self.engine.connect() as conn:
                page = raw_rows(conn, sql, [self.ctx.campaign_id, self.ctx.step, after, SendStatus.pending.value, PAGE])
            if not page:
                return
            for r in page:
                # what audience.contact_fields builds, in one pass (JSON text parsed, NULL -> empty)
                fields = dict(zip(names, r[4:]))
                for name, empty in json_names:
                    value = fields[name]
                    if value is None:
                        fields[name] = empty()
                    elif isinstance(value, (str, bytes)):
                        fields[name] = orjson.loads(value)
                yield Row(_as_uuid(r[0]), r[1], r[2], r[3], r[4 + language_at] or "en", fields)
            after = page[-1][1]

    def _email_batches(self) -> Iterator[tuple]:
        """Rows grouped by content (variant, language): shared content goes 1,000 per request."""
        buffers: dict[int, tuple[CompiledContent, list[Row]]] = {}
        for row in self.pending_rows():
            content = self.ctx.content_for(row.variant, row.language)
            key = id(content)
            bucket = buffers.setdefault(key, (content, []))[1]
            bucket.append(row)
            if len(bucket) >= self.options.batch_size:
                yield (self.send_email_batch, content, list(bucket))
                bucket.clear()
        for content, bucket in buffers.values():
            if bucket:
                yield (self.send_email_batch, content, list(bucket))

    def _sms_groups(self) -> Iterator[tuple]:
        groups: dict[str, list[Row]] = {}
        for row in self.pending_rows():
            sender = self.senders.sender_for(row.contact_id)
            group = groups.setdefault(sender, [])
            group.append(row)
            if len(group) >= SMS_GROUP:
                yield (self.send_sms_group, sender, list(group))
                group.clear()
        for sender, group in groups.items():
            if group:
                yield (self.send_sms_group, sender, list(group))

    # ------------------------------------------------------------------ claim

    def _claim(self, rows: list[Row]) -> tuple[list[Row], str]:
        """Drop addresses suppressed since planning, then commit the rest as ``sending``."""
        now = ledger.utcnow()
        key = ledger.new_batch_key()
        # Read just before the claim but outside the shared write lock (SQLite: ~1,000 index look-ups
        # the other senders need not wait for). A suppression committed after this read is caught by
        # the next batch, exactly as one committed just after the claim would be.
        with self.engine.connect() as conn:
            blocked = suppressed_addresses(conn, self.ctx.org, self.ctx.channel, {r.address for r in rows})
        with self._writing() as conn:
            if blocked:
                late = [r.send_id for r in rows if r.address in blocked]
                ledger.set_status(conn, late, SendStatus.suppressed, error="suppressed_mid_run", now=now,
                                  only_from=(SendStatus.pending,))
                rows = [r for r in rows if r.address not in blocked]
            claimed = ledger.claim(conn, [r.send_id for r in rows], key, now) if rows else set()
        return [r for r in rows if r.send_id in claimed], key

    # ------------------------------------------------------------------ email

    def send_email_batch(self, content: CompiledContent, rows: list[Row]) -> None:
        rows, key = self._claim(rows)
        if not rows:
            return
        if content.shared:
            self._deliver_shared(content, rows, key)
        else:
            for row in rows:  # content differs per recipient beyond substitutions: one message each
                if self._stop.is_set():
                    self._release([row], "run stopped before sending")
                    continue
                self._deliver_single(content, row)

    def _envelope(self, content: CompiledContent, subject: str, text: str, html: str | None) -> dict[str, Any]:
        blocks = [{"type": "text/plain", "value": text}]
        if html:
            blocks.append({"type": "text/html", "value": html})
        body = {
            "from": self.ctx.from_email,
            "subject": subject,
            "content": blocks,
            "categories": [self.ctx.category.value, f"campaign-{self.ctx.campaign_id}"],
            # Beacon tracks opens, clicks and unsubscribes itself (signed tokens, one send_id).
            "tracking_settings": {"click_tracking": {"enable": False}, "open_tracking": {"enable": False},
                                  "subscription_tracking": {"enable": False}},
            "personalizations": [],
        }
        return with_sandbox_mode(body) if self.sandbox_mode else body

    def _personalization(self, row: Row, subs: dict[str, str] | None, unsubscribe: str) -> dict[str, Any]:
        p: dict[str, Any] = {
            "to": [{"email": row.address}],
            "custom_args": {"send_id": str(row.send_id), "organization_id": self._org_arg, "campaign_id": self._campaign_arg},
            "headers": {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": UNSUBSCRIBE_POST},
        }
        if subs:
            p["substitutions"] = subs
        return p

    def _deliver_shared(self, content: CompiledContent, rows: list[Row], batch_key: str) -> None:
        parts = content.shared_parts
        body = self._envelope(content, parts.subject, parts.text, parts.html)
        ready: list[Row] = []
        unrenderable: dict[uuid.UUID, str] = {}
        for row in rows:
            try:
                subs = substitutions(content, row.fields, self.ctx.links(row.send_id))
            except RENDER_ERRORS as exc:
                unrenderable[row.send_id] = f"render: {exc}"
                continue
            ready.append(row)
            body["personalizations"].append(self._personalization(row, subs, subs[UNSUB_KEY]))
        if unrenderable:
            self._fail([r for r in rows if r.send_id in unrenderable], unrenderable)
        if ready:
            self._post(body, ready, batch_key)

    def _deliver_single(self, content: CompiledContent, row: Row) -> None:
        links = self.ctx.links(row.send_id)
        try:
            parts = render_individual(content, row.fields, links)
        except RENDER_ERRORS as exc:
            self._fail([row], {row.send_id: f"render: {exc}"})
            return
        body = self._envelope(content, parts.subject, parts.text, parts.html)
        body["personalizations"].append(self._personalization(row, None, links.unsubscribe))
        self._post(body, [row])

    def _post(self, body: dict[str, Any], rows: list[Row], batch_key: str | None = None) -> None:
        """Post; recipients SendGrid rejects by index fail alone and the rest are posted again."""
        while rows:
            try:
                message_id = self._call_with_retry(lambda: self.mailer.send_batch(body), rows)
            except PermanentError as exc:
                blamed = {i: why for i, why in exc.personalizations.items() if i < len(rows)}
                if not blamed or len(blamed) == len(rows):
                    self._fail(rows, {r.send_id: str(exc) for r in rows})
                    return
                self._fail([rows[i] for i in blamed], {rows[i].send_id: why for i, why in blamed.items()})
                keep = [i for i in range(len(rows)) if i not in blamed]
                body = {**body, "personalizations": [body["personalizations"][i] for i in keep]}
                rows = [rows[i] for i in keep]
                continue
            except TransientError as exc:
                self._give_up(rows, exc)
                return
            self._mark_sent(rows, message_id, None, batch_key)
            return

    # ------------------------------------------------------------------ SMS

    def send_sms_group(self, sender: str, rows: list[Row]) -> None:
        rows, _key = self._claim(rows)
        bucket = self.senders.buckets[sender]
        for index, row in enumerate(rows):
            if self._stop.is_set():
                self._release(rows[index:], "run stopped before sending")
                return
            content = self.ctx.content_for(row.variant, row.language)
            try:
                body = render_sms(content, row.fields, self.ctx.links(row.send_id), marketing=self.marketing)
            except RENDER_ERRORS as exc:
                self._fail([row], {row.send_id: f"render: {exc}"})
                continue
            callback = self._status_callback(row)

            def create() -> str:
                bucket.acquire()
                return self.texter.send(to=row.address, from_=sender, body=body, status_callback=callback)

            try:
                sid = self._call_with_retry(create, [row])
            except PermanentError as exc:
                self._fail([row], {row.send_id: str(exc)})
                reason = (SuppressionReason.sms_stop if exc.code == TWILIO_OPTED_OUT
                          else SuppressionReason.invalid if exc.code in TWILIO_INVALID_NUMBERS else None)
                if reason is not None:
                    self._suppress(row.address, reason)
                continue
            except TransientError as exc:
                self._give_up([row], exc)
                self._release(rows[index + 1 :], "run stopped after a provider outage")
                return
            self._mark_sent([row], None, {row.send_id: sid} if sid else None)

    def _status_callback(self, row: Row) -> str:
        query = urlencode({"send_id": str(row.send_id), "organization_id": str(self.ctx.org)})
        return f"{self.ctx.public_base_url.rstrip('/')}/webhooks/twilio/status?{query}"

    def _suppress(self, address: str, reason: SuppressionReason) -> None:
        with self._writing() as conn:
            ledger.bulk_insert(
                conn, Suppression.__table__,
                [{"organization_id": int(self.ctx.org), "channel": self.ctx.channel, "address": address,
                  "reason": reason, "source": "twilio", "created_at": ledger.utcnow()}],
                ["organization_id", "channel", "address"],
            )

    # ------------------------------------------------------------------ retry and outcomes

    def _call_with_retry(self, call, rows: list[Row]):
        """Retry transient errors (tenacity: exponential backoff with jitter, Retry-After honoured).
        After a timeout the request may have landed: ask the provider before sending again."""
        maybe_landed = False
        for attempt in self.options.retry.retrying():
            with attempt:
                if maybe_landed:
                    found = self._accepted_after_timeout(rows)
                    if found is not None:
                        return found
                try:
                    return call()
                except TransientError as exc:
                    maybe_landed = maybe_landed or exc.outcome_unknown
                    raise
        raise AssertionError("unreachable: tenacity reraises")

    def _accepted_after_timeout(self, rows: list[Row]) -> str | None:
        """The provider message id if the timed-out request did land (polls for one timeout's length,
        since the provider may still be working on it), else None."""
        ids = [str(r.send_id) for r in rows]
        deadline = time.monotonic() + self.options.request_timeout
        while True:
            found = self.provider.accepted(ids) if hasattr(self.provider, "accepted") else None
            if found is None:
                return None
            if found and len(found) == len(ids):
                return next(iter(found.values())) or ""
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(0.25, self.options.request_timeout / 4))

    def _mark_sent(self, rows: list[Row], message_id: str | None, per_message: dict[uuid.UUID, str] | None,
                   batch_key: str | None = None) -> None:
        with self._writing() as conn:
            ledger.mark_sent(conn, self.ctx.org, [(r.send_id, r.contact_id) for r in rows], provider_message_id=message_id,
                             channel=self.ctx.channel, campaign_id=self.ctx.campaign_id, now=ledger.utcnow(),
                             per_message_ids=per_message, batch_key=batch_key)
        self._count(sent=len(rows))

    def _fail(self, rows: list[Row], errors: dict[uuid.UUID, str]) -> None:
        now = ledger.utcnow()
        with self._writing() as conn:
            for message in set(errors.values()):
                ids = [r.send_id for r in rows if errors.get(r.send_id) == message]
                ledger.set_status(conn, ids, SendStatus.failed, error=message[:2000], now=now)
        self._count(failed=len(rows))

    def _release(self, rows: list[Row], why: str) -> None:
        """Back to ``pending`` (never reached the provider): the next run sends them."""
        if rows:
            with self._writing() as conn:
                ledger.set_status(conn, [r.send_id for r in rows], SendStatus.pending, error=why, now=ledger.utcnow(),
                                  only_from=(SendStatus.sending,))

    def _give_up(self, rows: list[Row], exc: TransientError) -> None:
        """Retries exhausted: stop the run. Rows whose request may have landed stay ``sending`` for
        the next run to reconcile; the others go back to ``pending``."""
        if not exc.outcome_unknown:
            self._release(rows, f"retries exhausted: {exc}")
        self._fatal(f"provider unavailable after {self.options.retry.attempts} attempts: {exc}")

    # ------------------------------------------------------------------ resume

    def reconcile(self) -> None:
        """Settle rows an interrupted run left in ``sending``."""
        with self.engine.connect() as conn:
            batches = ledger.in_flight(conn, self.ctx.campaign_id, self.ctx.step)
        for key, items in batches.items():
            lookup = self.provider.accepted([str(sid) for sid, _ in items]) if hasattr(self.provider, "accepted") else None
            now = ledger.utcnow()
            with self._writing() as conn:
                if lookup is None:
                    if self.options.unknown_outcome == "fail":
                        ledger.set_status(conn, [sid for sid, _ in items], SendStatus.failed,
                                          error="outcome unknown: the run stopped during the provider call", now=now)
                    else:
                        ledger.set_status(conn, [sid for sid, _ in items], SendStatus.pending,
                                          error="resent: outcome of an interrupted call unknown", now=now)
                    continue
                landed = [(sid, cid) for sid, cid in items if str(sid) in lookup]
                ledger.mark_sent(conn, self.ctx.org, landed, provider_message_id=None, channel=self.ctx.channel,
                                 campaign_id=self.ctx.campaign_id, now=now,
                                 per_message_ids={sid: lookup[str(sid)] for sid, _ in landed})
                ledger.set_status(conn, [sid for sid, _ in items if str(sid) not in lookup], SendStatus.pending,
                                  error=None, now=now, only_from=(SendStatus.sending,))
            self.outcome.reconciled += len(items)
            self.outcome.sent += len(landed)


def _as_uuid(value: Any) -> uuid.UUID:
    """send_id as the driver returns it (a UUID from psycopg, 32 hex digits from SQLite) -> UUID."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value)


# ----------------------------------------------------------------------------- default providers


def fake_lookup(channel: Channel, base_url: str):
    """Which send_ids the local fake accepted, from its inspection API (``GET /_fake/messages``)."""
    import httpx

    def lookup(send_ids: list[str]) -> dict[str, str]:
        wanted = set(send_ids)
        provider = "sendgrid" if channel is Channel.email else "twilio"
        response = httpx.get(f"{base_url.rstrip('/')}/_fake/messages", params={"provider": provider}, timeout=60)
        response.raise_for_status()
        found: dict[str, str] = {}
        for message in response.json()[provider]:
            if provider == "sendgrid":
                sid = message["custom_args"].get("send_id")
                pmid = message.get("x_message_id")
            else:
                from urllib.parse import parse_qs, urlsplit

                callback = message.get("status_callback") or ""
                sid = (parse_qs(urlsplit(callback).query).get("send_id") or [None])[0]
                pmid = message.get("sid")
            if sid in wanted:
                found[sid] = pmid or ""
        return found

    return lookup


def default_mailer(timeout: float) -> SendGridMailer:
    from beacon.providers.clients import sendgrid_client
    from beacon.providers.credentials import uses_real_sendgrid
    from beacon.settings import get_settings

    settings = get_settings()
    lookup = None if uses_real_sendgrid(settings) else fake_lookup(Channel.email, settings.fake_providers_url)
    return SendGridMailer(sendgrid_client(settings), timeout=timeout, lookup=lookup)


class _LookupTexter(TwilioTexter):
    def __init__(self, client: Any, lookup) -> None:
        super().__init__(client)
        self._lookup = lookup

    def accepted(self, send_ids: list[str]) -> dict[str, str] | None:
        return self._lookup(send_ids) if self._lookup is not None else None


def default_texter() -> TwilioTexter:
    from beacon.providers.clients import twilio_client
    from beacon.providers.credentials import uses_real_twilio
    from beacon.settings import get_settings

    settings = get_settings()
    lookup = None if uses_real_twilio(settings) else fake_lookup(Channel.sms, settings.fake_providers_url)
    return _LookupTexter(twilio_client(settings), lookup)
