"""Lists, segments, campaigns, the send ledger, provider events and suppressions of one tenant.

History is played forward in time: each campaign only reaches contacts who had signed up,
consented and were not suppressed by an earlier campaign's bounce, unsubscribe or complaint,
so suppressions, contact statuses and events agree. Events of the last 30 days sit in the
operational DB (as if received by webhook, some arriving days late); older campaigns' provider
events are export files (SendGrid JSON batches, Twilio status CSVs) for ingestion to backfill.
"""

from __future__ import annotations

import csv
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from beacon.generate.names import APPLE_MPP_USER_AGENT, BOT_USER_AGENTS, HUMAN_USER_AGENTS
from beacon.generate.rng import hex_ids, uuids
from beacon.generate.tenants import Tenant
from beacon.schema.models import Campaign, ContactList, Event, ListMember, Segment, Send, Suppression
from beacon.store.contacts import BulkInsert, set_contact_status

DAY = 86400
WEBHOOK_WINDOW = 30 * DAY
EVENTS_PER_SEND = 3.0  # rough yield, used to size audiences from the events target
BATCH = 5_000
CHUNK = 20_000
SLICE = 25_000  # sends whose events are built at once
SG_KINDS = {"processed": "sent", "delivered": "delivered", "bounce": "bounced", "open": "opened",
            "click": "clicked", "unsubscribe": "unsubscribed", "spamreport": "complained"}
TWILIO_KINDS = {"sent": "sent", "delivered": "delivered", "undelivered": "failed", "failed": "failed"}
STATUS_TO_SUPPRESSION = {1: "unsubscribed", 2: "hard_bounce", 3: "complaint", 4: "manual"}


@dataclass
class TenantAudience:
    ids: np.ndarray
    signup: np.ndarray
    email: list[str | None]
    phone: list[str | None]
    consent_email: np.ndarray
    consent_sms: np.ndarray
    status: np.ndarray
    engagement: np.ndarray
    updated: np.ndarray


def _dt(ts: int | float) -> datetime:
    return datetime.fromtimestamp(int(ts), UTC)


def segment_definitions(tenant: Tenant) -> list[tuple[str, dict]]:
    segments = [
        ("Engaged repeat buyers", {"all": [{"field": "orders_count", "op": "gte", "value": 2},
                                           {"field": "engaged_days", "op": "lte", "value": 90}]}),
        ("Lapsed customers", {"all": [{"field": "last_order_days", "op": "gt", "value": 180},
                                      {"field": "net_revenue", "op": "gt", "value": 0}]}),
        ("High predicted value", {"any": [{"field": "predicted_clv_12m", "op": "gte", "value": 200},
                                          {"field": "tags", "op": "has_any", "value": ["vip", "major-donor"]}]}),
        ("Spanish-speaking countries", {"all": [{"field": "country", "op": "in", "value": ["ES", "MX"]},
                                                {"not": {"field": "status", "op": "eq", "value": "unsubscribed"}}]}),
    ]
    if tenant.type_code == "ecommerce":
        segments += [
            ("New sign-ups", {"all": [{"field": "lifecycle_stage", "op": "eq", "value": "new"},
                                      {"field": "orders_count", "op": "eq", "value": 0}]}),
            ("Abandoned cart", {"all": [{"field": "custom.cart_abandoned", "op": "eq", "value": True},
                                        {"field": "last_order_days", "op": "is_null", "value": None}]}),
        ]
    return segments


class Messaging:
    def __init__(self, session: Session, tenant: Tenant, aud: TenantAudience, rng: np.random.Generator,
                 as_of: datetime, inbox: Path) -> None:
        self.session, self.tenant, self.aud, self.rng = session, tenant, aud, rng
        self.as_of_ts = int(as_of.timestamp())
        self.inbox = inbox
        self.counts = {"sendgrid_files": 0, "sendgrid_events": 0, "twilio_files": 0, "twilio_events": 0,
                       "db_events": 0, "late_events": 0, "duplicate_deliveries": 0}
        n = len(aud.ids)
        self.suppressed = {"email": np.zeros(n, dtype=bool), "sms": np.zeros(n, dtype=bool)}
        self.suppressions: dict[tuple[str, str], dict] = {}
        self.status_changes: dict[int, tuple[int, str, datetime]] = {}

    # ------------------------------------------------------------------ audience objects
    def lists_and_segments(self) -> tuple[list[tuple[int, np.ndarray]], dict[str, int]]:
        t, rng, aud = self.tenant, self.rng, self.aud
        created = t.created_at + timedelta(days=30)
        names = ["Newsletter", "VIP", "Event attendees"]
        list_ids = list(self.session.execute(
            insert(ContactList.__table__).returning(ContactList.__table__.c.id, sort_by_parameter_order=True),
            [{"organization_id": t.org, "name": name, "description": f"{name} ({t.name})",
              "created_at": created, "updated_at": created} for name in names],
        ).scalars())
        lists = []
        for list_id, share in zip(list_ids, (0.3, 0.05, 0.12)):
            members = np.flatnonzero(rng.random(len(aud.ids)) < share)
            added = np.maximum(aud.signup[members], int(created.timestamp())) + rng.integers(0, 10 * DAY, len(members))
            added = np.minimum(added, self.as_of_ts - 1)
            rows = [{"organization_id": t.org, "list_id": list_id, "contact_id": int(aud.ids[m]), "added_at": _dt(a)}
                    for m, a in zip(members.tolist(), added.tolist())]
            self._bulk(ListMember.__table__, rows)
            lists.append((list_id, members))
        definitions = segment_definitions(t)
        segment_ids = list(self.session.execute(
            insert(Segment.__table__).returning(Segment.__table__.c.id, sort_by_parameter_order=True),
            [{"organization_id": t.org, "name": name, "description": None, "criteria": criteria,
              "created_at": created, "updated_at": created} for name, criteria in definitions],
        ).scalars())
        return lists, dict(zip([name for name, _ in definitions], segment_ids))

    def initial_suppressions(self) -> None:
        """Contacts already unsubscribed, bounced, complained or blocked before the history starts."""
        for i in np.flatnonzero(self.aud.status > 0).tolist():
            reason = STATUS_TO_SUPPRESSION[int(self.aud.status[i])]
            at = _dt(self.aud.updated[i])
            for channel, address in (("email", self.aud.email[i]), ("sms", self.aud.phone[i])):
                if address:
                    self.suppressions.setdefault((channel, address.lower()), {
                        "reason": reason, "source": "import", "created_at": at})
            self.suppressed["email"][i] = self.suppressed["sms"][i] = True

    # ------------------------------------------------------------------ campaigns
    def campaigns(self, count: int, events_target: int) -> None:
        t, rng, aud = self.tenant, self.rng, self.aud
        lists, segments = self.lists_and_segments()
        self.initial_suppressions()
        starts = np.sort(self.as_of_ts - rng.integers(20 * DAY, 540 * DAY, max(count - 1, 0)))
        starts = np.append(starts, self.as_of_ts - rng.integers(2 * DAY, 12 * DAY))
        per_campaign = max(1, int(events_target / max(count, 1) / EVENTS_PER_SEND))
        segment_ids = list(segments.values())
        for k, start in enumerate(starts.tolist()):
            sms = k % 4 == 1 and t.type_code in {"ecommerce", "church"}
            channel = "sms" if sms else "email"
            template = "sms_promotion" if sms else ("newsletter" if k % 2 == 0 else "promotion")
            use_list = k % 3 == 2
            list_id, list_members = lists[k % len(lists)]
            ab = not sms and k % 2 == 1
            holdout = Decimal("10.00") if k % 3 == 0 else Decimal("0")
            variants = [{"name": "A", "weight": 50, "template_code": template, "subject": "Don't miss out"},
                        {"name": "B", "weight": 50, "template_code": template, "subject": "{{ contact.first_name }}, this is for you"}] if ab else []
            begin = _dt(start)
            campaign = {
                "organization_id": t.org, "name": f"{template.replace('_', ' ').title()} #{k + 1}",
                "segment_id": None if use_list else segment_ids[k % len(segment_ids)],
                "list_id": list_id if use_list else None, "template_code": template, "channel": channel,
                "category": "newsletter" if template == "newsletter" else "promotional", "status": "sent",
                "trigger_mode": "one_off", "scheduled_at": begin, "started_at": begin,
                "finished_at": begin + timedelta(hours=2), "variants": variants, "holdout_percent": holdout,
                "automation_steps": [], "last_run_at": None,
                "created_at": begin - timedelta(days=3), "updated_at": begin + timedelta(hours=2),
            }
            campaign_id = self.session.execute(insert(Campaign.__table__).returning(Campaign.__table__.c.id), campaign).scalar_one()
            address = aud.email if channel == "email" else aud.phone
            consent = aud.consent_email if channel == "email" else aud.consent_sms
            eligible = consent & (aud.signup < start) & ~self.suppressed[channel] & (aud.status == 0)
            if use_list:
                in_list = np.zeros(len(aud.ids), dtype=bool)
                in_list[list_members] = True
                eligible &= in_list
            pool = np.flatnonzero(eligible)
            pool = np.array([p for p in pool.tolist() if address[p]], dtype=np.int64)
            audience = np.sort(rng.choice(pool, min(len(pool), per_campaign), replace=False)) if len(pool) else pool
            self._send(campaign_id, channel, start, audience, variants, float(holdout))
        if t.type_code == "ecommerce":
            self._automations(segments)
        self._flush_suppressions()

    def _automations(self, segments: dict[str, int]) -> None:
        t = self.tenant
        at = _dt(self.as_of_ts - 45 * DAY)
        common = {"organization_id": t.org, "list_id": None, "channel": "email", "trigger_mode": "automation",
                  "started_at": None, "finished_at": None, "variants": [], "holdout_percent": Decimal("0"),
                  "last_run_at": None, "created_at": at, "updated_at": at}
        self.session.execute(insert(Campaign.__table__), [
            {**common, "name": "Welcome series", "segment_id": segments["New sign-ups"], "template_code": "welcome",
             "category": "transactional", "status": "scheduled", "scheduled_at": at,
             "automation_steps": [{"step": i + 1, "delay_days": d, "template_code": "welcome"} for i, d in enumerate((0, 3, 7))]},
            {**common, "name": "Abandoned cart", "segment_id": segments["Abandoned cart"],
             "template_code": "abandoned_cart", "category": "promotional", "status": "draft", "scheduled_at": None,
             "automation_steps": [{"step": 1, "delay_days": 0, "template_code": "abandoned_cart"}]},
        ])

    # ------------------------------------------------------------------ sends and events
    def _send(self, campaign_id: int, channel: str, start: int, audience: np.ndarray, variants: list, holdout: float) -> None:
        rng, aud, m = self.rng, self.aud, len(audience)
        if m == 0:
            return
        send_ids = uuids(rng, m)
        held = rng.random(m) < holdout / 100
        sent_at = start + rng.integers(0, 2 * 3600, m)
        variant = (np.where(rng.random(m) < 0.5, "A", "B") if variants else np.full(m, None, dtype=object)).tolist()
        message_ids = [f"SM{h}" for h in hex_ids(rng, m, 32)] if channel == "sms" else \
            [f"{h}.filter0001.{campaign_id}.0" for h in hex_ids(rng, m, 22)]
        address = aud.email if channel == "email" else aud.phone
        created = _dt(start - 600)
        rows = []
        for j, pos in enumerate(audience.tolist()):
            rows.append({
                "send_id": send_ids[j], "organization_id": self.tenant.org, "campaign_id": campaign_id,
                "contact_id": int(aud.ids[pos]), "step": 0, "channel": channel, "address": address[pos],
                "variant": variant[j], "status": "held_out" if held[j] else "sent",
                "provider_message_id": None if held[j] else message_ids[j], "attempts": 0 if held[j] else 1,
                "error": None, "created_at": created, "updated_at": created if held[j] else _dt(sent_at[j]),
                "sent_at": None if held[j] else _dt(sent_at[j]),
            })
        self._bulk(Send.__table__, rows)
        live = np.flatnonzero(~held)
        recent = start >= self.as_of_ts - WEBHOOK_WINDOW
        ctx = {"campaign_id": campaign_id, "send_ids": send_ids, "message_ids": message_ids, "audience": audience,
               "sent_at": sent_at, "recent": recent, "batch": 0}
        # Events are built per slice of sends, so memory stays bounded however big the campaign.
        for lo in range(0, len(live), SLICE):
            if channel == "email":
                self._email_events(ctx, live[lo : lo + SLICE])
            else:
                self._sms_events(ctx, live[lo : lo + SLICE])

    def _email_events(self, ctx: dict, live: np.ndarray) -> None:
        rng, aud = self.rng, self.aud
        n = len(live)
        pos = ctx["audience"][live]
        sent = ctx["sent_at"][live]
        u = rng.random((n, 8))
        hard, soft = u[:, 0] < 0.008, (u[:, 0] >= 0.008) & (u[:, 0] < 0.02)
        delivered = ~(hard | soft)
        delivered_at = sent + rng.integers(2, 90, n)
        engagement = aud.engagement[pos]
        human_open = delivered & (u[:, 1] < engagement)
        machine_open = delivered & (u[:, 2] < 0.2)
        open_at = delivered_at + np.minimum(rng.exponential(8 * 3600, n), 30 * DAY).astype(np.int64)
        machine_at = delivered_at + rng.integers(30, 1800, n)
        reopen = human_open & (u[:, 3] < 0.3)
        reopen_at = open_at + rng.integers(3600, 5 * DAY, n)
        click = human_open & (u[:, 4] < 0.25)
        click_at = open_at + rng.integers(5, 600, n)
        bot_click = delivered & (u[:, 5] < 0.02)
        bot_at = delivered_at + rng.integers(1, 60, n)
        unsub = delivered & (u[:, 6] < np.where(human_open, 0.01, 0.002))
        unsub_at = np.where(human_open, open_at, delivered_at) + rng.integers(30, 3600, n)
        complaint = delivered & ~unsub & (u[:, 7] < 0.0006)
        complaint_at = delivered_at + rng.integers(600, 3 * DAY, n)
        ua_pick = rng.integers(0, 1 << 30, n)
        parts = [
            ("processed", np.ones(n, dtype=bool), sent, None), ("delivered", delivered, delivered_at, None),
            ("bounce", hard, delivered_at, "bounce"), ("bounce", soft, delivered_at, "blocked"),
            ("open", human_open, open_at, "human"), ("open", reopen, reopen_at, "human"),
            ("open", machine_open, machine_at, "machine"), ("click", click, click_at, "human"),
            ("click", bot_click, bot_at, "bot"), ("unsubscribe", unsub, unsub_at, None),
            ("spamreport", complaint, complaint_at, None),
        ]
        kinds, idx, ts, extra = [], [], [], []
        for kind, mask, at, flavour in parts:
            pick = np.flatnonzero(mask)
            kinds += [kind] * len(pick)
            extra += [flavour] * len(pick)
            idx.append(pick)
            ts.append(at[pick])
        idx_arr, ts_arr = np.concatenate(idx), np.concatenate(ts)
        order = np.lexsort((np.arange(len(ts_arr)), ts_arr))
        future = ts_arr[order] >= self.as_of_ts
        order = order[~future]
        event_ids = hex_ids(rng, len(order), 22)
        campaign_id, org = ctx["campaign_id"], str(self.tenant.org)
        events = []
        for e, o in enumerate(order.tolist()):
            j = int(idx_arr[o])
            p = int(pos[j])
            kind, flavour, at = kinds[o], extra[o], int(ts_arr[o])
            event = {"email": aud.email[p], "timestamp": at, "event": kind, "sg_event_id": event_ids[e],
                     "sg_message_id": ctx["message_ids"][live[j]], "send_id": str(ctx["send_ids"][live[j]]),
                     "organization_id": org, "campaign_id": str(campaign_id)}
            if kind == "open":
                event["sg_machine_open"] = flavour == "machine"
                event["useragent"] = APPLE_MPP_USER_AGENT if flavour == "machine" else \
                    HUMAN_USER_AGENTS[ua_pick[j] % len(HUMAN_USER_AGENTS)]
                event["ip"] = f"17.58.{ua_pick[j] % 250}.{ua_pick[j] % 200}" if flavour == "machine" else \
                    f"203.0.{ua_pick[j] % 250}.{(ua_pick[j] >> 8) % 250}"
            elif kind == "click":
                event["url"] = f"https://{self.tenant.domain}/c/{campaign_id}"
                event["useragent"] = (BOT_USER_AGENTS if flavour == "bot" else HUMAN_USER_AGENTS)[ua_pick[j] % 3]
                event["ip"] = f"198.51.100.{ua_pick[j] % 250}" if flavour == "bot" else f"203.0.{ua_pick[j] % 250}.7"
            elif kind == "bounce":
                event["type"] = flavour
                event["status"] = "5.1.1" if flavour == "bounce" else "4.7.1"
                event["reason"] = "550 5.1.1 The email account does not exist" if flavour == "bounce" else \
                    "421 4.7.1 Temporarily deferred: try again later"
            events.append(event)
            if kind == "bounce" and flavour == "bounce":
                self._suppress(p, "email", "hard_bounce", "sendgrid", at, "bounced")
            elif kind == "unsubscribe":
                self._suppress(p, "email", "unsubscribed", "sendgrid", at, "unsubscribed")
            elif kind == "spamreport":
                self._suppress(p, "email", "complaint", "sendgrid", at, "complained")
        if ctx["recent"]:
            self._store_events(events, "sendgrid", "email", lambda ev: (SG_KINDS[ev["event"]], ev["timestamp"], ev["sg_event_id"]))
        else:
            self._write_sendgrid(ctx, events)

    def _sms_events(self, ctx: dict, live: np.ndarray) -> None:
        rng, aud = self.rng, self.aud
        n = len(live)
        pos = ctx["audience"][live]
        sent = ctx["sent_at"][live]
        u = rng.random(n)
        events = []
        for j in range(n):
            p, at = int(pos[j]), int(sent[j])
            sid = ctx["message_ids"][live[j]]
            outcome = "delivered" if u[j] >= 0.06 else ("undelivered" if u[j] >= 0.01 else "failed")
            code = {"delivered": "", "undelivered": "30003", "failed": "21610"}[outcome]
            for step, (status, delay) in enumerate((("queued", 0), ("sent", 1), (outcome, 4 + int(u[j] * 40)))):
                if at + delay >= self.as_of_ts:
                    continue
                events.append({"MessageSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+15005550006",
                               "To": aud.phone[p], "MessageStatus": status, "ErrorCode": code if step == 2 else "",
                               "EventTimestamp": _dt(at + delay).isoformat().replace("+00:00", "Z"),
                               "send_id": str(ctx["send_ids"][live[j]]), "organization_id": str(self.tenant.org),
                               "_ts": at + delay})
            if outcome == "failed":
                self._suppress(p, "sms", "sms_stop", "twilio", at, None)
        if ctx["recent"]:
            self._store_events([e for e in events if e["MessageStatus"] in TWILIO_KINDS], "twilio", "sms",
                               lambda ev: (TWILIO_KINDS[ev["MessageStatus"]], ev["_ts"], f"{ev['MessageSid']}:{ev['MessageStatus']}"))
        else:
            self._write_twilio(ctx, events)

    def _suppress(self, pos: int, channel: str, reason: str, source: str, at: int, status: str | None) -> None:
        address = (self.aud.email if channel == "email" else self.aud.phone)[pos]
        self.suppressions.setdefault((channel, address.lower()), {"reason": reason, "source": source, "created_at": _dt(at)})
        self.suppressed[channel][pos] = True
        if status and int(self.aud.ids[pos]) not in self.status_changes:
            self.status_changes[int(self.aud.ids[pos])] = (int(self.aud.ids[pos]), status, _dt(at))

    def _store_events(self, events: list[dict], provider: str, channel: str, key) -> None:
        rows = []
        late = self.rng.random(len(events)) < 0.03
        delays = self.rng.integers(1, 30, len(events))
        late_delays = self.rng.integers(2 * DAY, 6 * DAY, len(events))
        for i, ev in enumerate(events):
            event_type, at, provider_id = key(ev)
            received = at + (late_delays[i] if late[i] and at + late_delays[i] < self.as_of_ts else delays[i])
            self.counts["late_events"] += int(received - at > DAY)
            payload = {k: v for k, v in ev.items() if not k.startswith("_")}
            rows.append({"organization_id": self.tenant.org, "event_type": event_type, "occurred_at": _dt(at),
                         "received_at": _dt(received), "send_id": uuid.UUID(payload["send_id"]), "contact_id": None,
                         "channel": channel, "provider": provider, "provider_event_id": provider_id, "payload": payload})
        self._attach_contacts(rows)
        self._bulk(Event.__table__, rows)
        self.counts["db_events"] += len(rows)

    def _attach_contacts(self, rows: list[dict]) -> None:
        address_to_contact = self._address_index()
        for row in rows:
            address = row["payload"].get("email") or row["payload"].get("To")
            row["contact_id"] = address_to_contact.get(address)

    def _address_index(self) -> dict[str, int]:
        if not hasattr(self, "_index"):
            index = {}
            for i, (e, p) in enumerate(zip(self.aud.email, self.aud.phone)):
                if e:
                    index[e] = int(self.aud.ids[i])
                if p:
                    index.setdefault(p, int(self.aud.ids[i]))
            self._index = index
        return self._index

    def _write_sendgrid(self, ctx: dict, events: list[dict]) -> None:
        campaign_id = ctx["campaign_id"]
        folder = self.inbox / self.tenant.slug / "events" / "sendgrid"
        folder.mkdir(parents=True, exist_ok=True)
        # SendGrid retries: ~1% of deliveries arrive twice with the same sg_event_id, in the next batch.
        delivered = [e for e in events if e["event"] == "delivered"]
        dupes = [e for e, d in zip(delivered, self.rng.random(len(delivered)) < 0.01) if d] or delivered[:1]
        self.counts["duplicate_deliveries"] += len(dupes)
        stream_ = events + dupes
        for s in range(0, len(stream_), BATCH):
            batch = stream_[s : s + BATCH]
            path = folder / f"sendgrid_campaign{campaign_id:05d}_{ctx['batch']:04d}.json"
            ctx["batch"] += 1
            with path.open("w", encoding="utf-8") as handle:
                handle.write("[\n")
                handle.write(",\n".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in batch))
                handle.write("\n]\n")
            self.counts["sendgrid_files"] += 1
        self.counts["sendgrid_events"] += len(stream_)

    def _write_twilio(self, ctx: dict, events: list[dict]) -> None:
        campaign_id = ctx["campaign_id"]
        folder = self.inbox / self.tenant.slug / "events" / "twilio"
        folder.mkdir(parents=True, exist_ok=True)
        columns = ["MessageSid", "AccountSid", "From", "To", "MessageStatus", "ErrorCode", "EventTimestamp",
                   "send_id", "organization_id"]
        events.sort(key=lambda e: (e["_ts"], e["MessageSid"]))
        for s in range(0, len(events), BATCH * 4):
            path = folder / f"twilio_status_campaign{campaign_id:05d}_{ctx['batch']:04d}.csv"
            ctx["batch"] += 1
            with path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                writer.writerows([e[c] for c in columns] for e in events[s : s + BATCH * 4])
            self.counts["twilio_files"] += 1
        self.counts["twilio_events"] += len(events)

    def _bulk(self, table, rows: list[dict]) -> None:
        if not rows:
            return
        bulk = BulkInsert(self.session.connection(), table, list(rows[0]))
        for start in range(0, len(rows), CHUNK):
            bulk.execute(rows[start : start + CHUNK])

    def _flush_suppressions(self) -> None:
        rows = [{"organization_id": self.tenant.org, "channel": channel, "address": address, **values}
                for (channel, address), values in sorted(self.suppressions.items())]
        self._bulk(Suppression.__table__, rows)
        changes = sorted(self.status_changes.values())
        set_contact_status(self.session, self.tenant.org, changes)
        self.counts["suppressions"] = len(rows)
        self.counts["status_changes"] = len(changes)
