"""Activation end to end: a 1M-recipient email campaign into the local fake SendGrid.

Measured in a child process (recipients/s and peak RSS): audience from a list, exclusions,
holdout, bulk ledger writes, shared rendering with per-recipient substitutions and signed links,
batched ``mail/send`` posts (1,000 personalizations) through the official SDK over HTTP to the
fake, which runs in its own process and counts messages per ``send_id`` (so duplicates would show).

Side by side: a per-recipient loop (one render, one ledger insert and update, one request per
message, as a naive sender would) on a sample, and an SMS run whose measured send rate per
sender must stay within its configured limit. Goals: >= 10k recipients/s, >= 20x the loop.
Operational DB: SQLite (the embedded default). Quick mode: 20k recipients, 1k loop sample.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
SMS_RATE = 5.0  # messages/s per sender for the rate check (production default is 1/s)
SMS_SENDERS = ["+14155550100", "+14155550101"]
SMS_MESSAGES = 30
SEND_PROCESSES = int(os.environ.get("BENCH_ACTIVATION_PROCESSES", "2"))  # RunOptions.processes: one per core here
IN_FLIGHT = int(os.environ.get("BENCH_ACTIVATION_IN_FLIGHT", "4"))  # RunOptions.max_in_flight per sender process


def _log(message: str) -> None:
    print(f"[bench_activation] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _fake_providers():
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, __file__, "--fake-providers", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/_fake/health", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fake providers did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
    try:
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def _environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _seed(db_path: Path, contacts: int) -> dict:
    """Organization, templates and ``contacts`` contacts (5% without consent, 1% suppressed) in a list."""
    from sqlalchemy import insert

    from beacon.schema import migrate
    from beacon.schema.db import make_engine, session_scope
    from beacon.schema.models import Campaign, ContactList, Template
    from beacon.store.organizations import create_organization

    url = f"sqlite:///{db_path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        org, _ = create_organization(session, type_code="ecommerce", name="Bench Shop", slug="bench-shop",
                                     domain="shop.example.com", postal_address="1 Main St, Springfield",
                                     settings={"sms_senders": SMS_SENDERS})
    with engine.begin() as conn:
        for channel, text in (("email", "Hello {{ contact.first_name }}, see https://shop.example.com/sale"),
                              ("sms", "Hi {{ contact.first_name }}: https://shop.example.com/sale")):
            conn.execute(insert(Template.__table__), {
                "organization_id": int(org), "code": f"promo_{channel}", "language": "en", "channel": channel,
                "category": "promotional", "subject": "Hi {{ contact.first_name }}, 20% off" if channel == "email" else None,
                "html_body": ('<html><body><h1>Sale</h1><p>Hello {{ contact.first_name }} {{ contact.last_name }},</p>'
                              '<p>Your tier: {{ contact.custom_fields.tier }}</p>'
                              '<a href="https://shop.example.com/sale">Shop now</a> '
                              '<a href="https://shop.example.com/account">Account</a></body></html>') if channel == "email" else None,
                "text_body": text, "required_variables": []})
        list_ids = [conn.execute(insert(ContactList.__table__).returning(ContactList.__table__.c.id),
                                 {"organization_id": int(org), "name": name}).scalar_one()
                    for name in ("everyone", "loop sample", "sms sample")]
    engine.dispose()
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA synchronous=OFF")
    rows = (
        (int(org), f"p{i}@example.com", f"p{i}@example.com", f"+1415{i:07d}", f"Ann{i}", "Lee", "en", "active",
         1, 1, 1, 0 if i % 20 == 7 else 1, 1, "[]", '{"tier": "gold"}', "import")
        for i in range(contacts)
    )
    raw.executemany(
        "INSERT INTO contacts (organization_id, email, email_normalized, phone, first_name, last_name, language, status,"
        " consent_email, consent_sms, consent_transactional, consent_promotional, consent_newsletter, tags, custom_fields,"
        " source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    raw.execute("INSERT INTO list_members (organization_id, list_id, contact_id) SELECT organization_id, ?, id FROM contacts",
                (list_ids[0],))
    raw.executemany("INSERT INTO suppressions (organization_id, channel, address, reason, source) VALUES (?,?,?,?,?)",
                    ((int(org), "email", f"p{i}@example.com", "unsubscribed", "bench") for i in range(3, contacts, 100)))
    raw.commit()
    raw.close()
    engine = make_engine(url)
    with engine.begin() as conn:
        campaigns = {
            name: conn.execute(insert(Campaign.__table__).returning(Campaign.__table__.c.id), {
                "organization_id": int(org), "name": name, "list_id": list_id, "template_code": f"promo_{channel}",
                "channel": channel, "category": "promotional", "status": "draft", "variants": [],
                "automation_steps": [], "holdout_percent": 5 if name == "main" else 0}).scalar_one()
            for name, list_id, channel in (("main", list_ids[0], "email"), ("loop", list_ids[1], "email"),
                                           ("sms", list_ids[2], "sms"))
        }
    engine.dispose()
    return {"url": url, "org": int(org), "lists": list_ids, "campaigns": campaigns}


def _fill_list(db_path: Path, org: int, list_id: int, first: int, count: int) -> None:
    raw = sqlite3.connect(db_path)
    raw.execute("INSERT INTO list_members (organization_id, list_id, contact_id) SELECT ?, ?, id FROM contacts "
                "WHERE organization_id = ? AND consent_promotional = 1 AND id > ? ORDER BY id LIMIT ?",
                (org, list_id, org, first, count))
    raw.commit()
    raw.close()


def _campaign_child(campaign_id: int, org: int, conn) -> None:
    from activation.run import RunOptions, run_campaign
    from beacon.tenancy import OrgId

    started, cpu_started = time.perf_counter(), _own_and_children_cpu()
    report = run_campaign(campaign_id, OrgId(org),
                          options=RunOptions(batch_size=1000, max_in_flight=IN_FLIGHT, processes=SEND_PROCESSES))
    elapsed, cpu = time.perf_counter() - started, _own_and_children_cpu() - cpu_started
    conn.send({"elapsed": elapsed, "cpu": cpu, "sent": report.sent, "targeted": report.targeted, "status": report.status,
               "excluded": report.excluded, "held_out": report.held_out, "errors": report.errors[:3],
               "phases": report.seconds})
    conn.close()


def _own_and_children_cpu() -> float:
    """CPU seconds of this process plus its finished children (the fanned-out sender processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of another process (the fake SendGrid), to count its share of the work."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _run_campaign_measured(campaign_id: int, org: int) -> tuple[dict, float, float, float]:
    """Run in a forked child; returns its result and the peak memory in MiB of it and its sender
    processes together (sampled every 0.2 s, so a peak shorter than that may be missed). PSS, not
    RSS: the senders are forked, and summing RSS would count their shared pages once per process."""
    import psutil

    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    proc = context.Process(target=_campaign_child, args=(campaign_id, org, child))
    proc.start()
    tree, peak, loads = psutil.Process(proc.pid), 0, []
    while not parent.poll(0.2):
        loads.append(os.getloadavg()[0])
        try:
            peak = max(peak, sum(p.memory_full_info().pss for p in [tree, *tree.children(recursive=True)]))
        except psutil.NoSuchProcess:  # a sender process ended between listing and reading it
            continue
    result = parent.recv()
    proc.join()
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB; exact, one process
    return result, peak / 2**20, largest, sum(loads) / max(len(loads), 1)


def _per_recipient_loop(db: dict, campaign_id: int) -> tuple[float, int]:
    """The naive baseline: for each recipient one render, one ledger insert + update, one request."""
    from activation import ledger
    from activation.content import new_send_id, render_individual
    from activation.run import build_context, load_campaign
    from activation.send import default_mailer
    from beacon.schema.db import make_engine
    from beacon.schema.models import Channel, Contact, ListMember, SendStatus
    from sqlalchemy import select

    from activation.audience import CONTACT_FIELDS, contact_fields

    engine = make_engine(db["url"])
    org = db["org"]
    with engine.connect() as conn:
        campaign, organization = load_campaign(conn, org, campaign_id)
        ctx = build_context(conn, org, campaign, organization, step=0, template_code=campaign.template_code)
        c = Contact.__table__.c
        contacts = conn.execute(
            select(*[c[name] for name in CONTACT_FIELDS], c.email_normalized)
            .join(ListMember.__table__, ListMember.__table__.c.contact_id == c.id)
            .where(ListMember.__table__.c.list_id == campaign.list_id)
        ).all()
    mailer = default_mailer(30.0)
    started = time.perf_counter()
    for r in contacts:
        send_id = new_send_id(org, campaign_id, r.id, 0)
        content = ctx.content_for(None, r.language)
        links = ctx.links(send_id)
        parts = render_individual(content, contact_fields(r[:len(CONTACT_FIELDS)], list(CONTACT_FIELDS)), links)
        now = ledger.utcnow()
        with engine.begin() as conn:
            ledger.insert_rows(conn, [ledger.ledger_row(send_id=send_id, org=org, campaign_id=campaign_id, contact_id=r.id,
                                                        step=0, channel=Channel.email, address=r.email_normalized, variant=None,
                                                        status=SendStatus.sending, error=None, now=now)])
        blocks = [{"type": "text/plain", "value": parts.text}, {"type": "text/html", "value": parts.html}]
        message_id = mailer.send_batch({
            "from": ctx.from_email, "subject": parts.subject, "content": blocks,
            "personalizations": [{"to": [{"email": r.email_normalized}],
                                  "custom_args": {"send_id": str(send_id), "organization_id": str(org),
                                                  "campaign_id": str(campaign_id)},
                                  "headers": {"List-Unsubscribe": f"<{links.unsubscribe}>",
                                              "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}}]})
        with engine.begin() as conn:
            ledger.mark_sent(conn, org, [(send_id, r.id)], provider_message_id=message_id, channel=Channel.email,
                             campaign_id=campaign_id, now=ledger.utcnow())
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, len(contacts)


def _sms_rates(db: dict) -> dict[str, float]:
    """Send an SMS campaign with a timing wrapper around the real Twilio texter; rate per sender."""
    from activation.run import RunOptions, run_campaign
    from activation.send import default_texter
    from beacon.tenancy import OrgId

    inner = default_texter()
    stamps: dict[str, list[float]] = defaultdict(list)

    class TimedTexter:
        def send(self, *, to, from_, body, status_callback):
            stamps[from_].append(time.monotonic())  # called right after the sender's bucket let it go
            return inner.send(to=to, from_=from_, body=body, status_callback=status_callback)

        def accepted(self, send_ids):
            return inner.accepted(send_ids)

    report = run_campaign(db["campaigns"]["sms"], OrgId(db["org"]), texter=TimedTexter(),
                          options=RunOptions(sms_rate_per_sender=SMS_RATE, max_in_flight=4))
    assert report.sent == SMS_MESSAGES, report
    return {sender: (len(ts) - 1) / (ts[-1] - ts[0]) for sender, ts in stamps.items() if len(ts) > 1}


def _calibration_us() -> tuple[float, float]:
    """How fast this machine is right now: CPU and wall microseconds for sum(range(1000)) (about
    8-10 of each on an idle modern core), so figures from a loaded machine read for what they are."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(2000):
        sum(range(1000))
    return (time.process_time() - cpu) / 2000 * 1e6, (time.perf_counter() - wall) / 2000 * 1e6


class _SendIdCounter(list):
    """Stands in for the fake's ``FakeState.sendgrid_messages`` in the benchmark: counts each accepted
    ``send_id`` and keeps nothing else (1M stored messages with their full content would measure the
    fake's memory, not Beacon's)."""

    def __init__(self) -> None:
        super().__init__()
        from collections import Counter

        self.counts: Counter[str] = Counter()

    def append(self, message) -> None:  # type: ignore[override]
        self.counts[message["custom_args"].get("send_id", "")] += 1


def _serve_fake_providers(port: int) -> None:
    """The app of ``beacon fake-providers`` with the counting store, plus ``GET /_bench/sendgrid``."""
    import uvicorn

    from beacon.providers.fake import FakeState, create_app

    state = FakeState()
    store = _SendIdCounter()
    state.sendgrid_messages = store
    app = create_app(state=state)

    @app.get("/_bench/sendgrid")
    async def sendgrid_counts() -> dict:
        with state.lock:
            return {"messages": sum(store.counts.values()), "distinct": len(store.counts),
                    "duplicates": sum(n - 1 for n in store.counts.values() if n > 1), "requests": state.sendgrid_requests}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def run(quick: bool) -> dict:
    return measure(20_000 if quick else 1_000_000, 1_000 if quick else 20_000)


def measure(recipients: int, loop_sample: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-activation-") as tmp, _fake_providers() as (fake_url, fake_pid):
        db_path = Path(tmp) / "beacon.db"
        env = {"BEACON_HOME": tmp, "BEACON_DATABASE_URL": f"sqlite:///{db_path}", "BEACON_FAKE_PROVIDERS_URL": fake_url,
               "BEACON_PUBLIC_BASE_URL": "https://links.example.com"}
        with _environment(env):
            for name in ("BEACON_SENDGRID_API_KEY", "BEACON_TWILIO_ACCOUNT_SID"):
                os.environ.pop(name, None)
            seed_started = time.perf_counter()
            db = _seed(db_path, recipients + loop_sample + 2 * SMS_MESSAGES)
            # the main list is everyone but the loop sample, so both runs send fresh messages
            raw = sqlite3.connect(db_path)
            raw.execute("DELETE FROM list_members WHERE list_id = ? AND contact_id > (SELECT min(id) FROM contacts) + ?",
                        (db["lists"][0], recipients - 1))
            raw.commit()
            first_loop_id = raw.execute("SELECT min(id) FROM contacts").fetchone()[0] + recipients - 1
            raw.close()
            _fill_list(db_path, db["org"], db["lists"][1], first_loop_id, loop_sample)
            _fill_list(db_path, db["org"], db["lists"][2], first_loop_id + loop_sample, SMS_MESSAGES)
            seed_seconds = time.perf_counter() - seed_started

            _log(f"seeded in {seed_seconds:.1f}s")
            fake_cpu = _cpu_seconds(fake_pid)
            result, peak_mib, largest_mib, campaign_load = _run_campaign_measured(db["campaigns"]["main"], db["org"])
            fake_cpu = _cpu_seconds(fake_pid) - fake_cpu
            _log(f"campaign: {result}, fake CPU {fake_cpu:.1f}s")
            counts = httpx.get(f"{fake_url}/_bench/sendgrid", timeout=30).json()
            loop_fake_cpu, loop_cpu = _cpu_seconds(fake_pid), time.process_time()
            loop_seconds, loop_n = _per_recipient_loop(db, db["campaigns"]["loop"])
            loop_cpu, loop_fake_cpu = time.process_time() - loop_cpu, _cpu_seconds(fake_pid) - loop_fake_cpu
            _log(f"loop: {loop_n} in {loop_seconds:.1f}s")
            sms = _sms_rates(db)

    calibration = _calibration_us()
    per_recipient = result["elapsed"] / result["targeted"]
    loop_per_recipient = loop_seconds / loop_n
    figures = {
        "recipients": result["targeted"],
        "sent": result["sent"],
        "seconds": round(result["elapsed"], 2),
        "recipients_per_s": round(result["targeted"] / result["elapsed"]),
        "peak_rss_mib": round(peak_mib, 1),
        "peak_rss_largest_process_mib": round(largest_mib, 1),
        "cpu_us_per_recipient": round(result["cpu"] / result["targeted"] * 1e6, 1),
        "recipients_per_cpu_second": round(result["targeted"] / result["cpu"]),
        "fake_cpu_us_per_recipient": round(fake_cpu / result["targeted"] * 1e6, 1),
        # both processes' CPU: what one recipient costs end to end, independent of how loaded the machine is
        "total_cpu_us_per_recipient": round((result["cpu"] + fake_cpu) / result["targeted"] * 1e6, 1),
        "loop_total_cpu_us_per_recipient": round((loop_cpu + loop_fake_cpu) / loop_n * 1e6, 1),
        "cpu_speedup_vs_loop": round(((loop_cpu + loop_fake_cpu) / loop_n) / ((result["cpu"] + fake_cpu) / result["targeted"]), 1),
        "fake_messages": counts["messages"],
        "fake_duplicates": counts["duplicates"],
        "sendgrid_requests": counts["requests"],
        "loop_recipients": loop_n,
        "loop_recipients_per_s": round(loop_n / loop_seconds),
        "speedup_vs_loop": round(loop_per_recipient / per_recipient, 1),
        "sms_limit_per_sender": SMS_RATE,
        "sms_max_measured_per_sender": round(max(sms.values()), 3),
        "seed_seconds": round(seed_seconds, 1),
        "calibration_cpu_us": round(calibration[0], 1),
        "calibration_wall_us": round(calibration[1], 1),
        "send_processes": SEND_PROCESSES,
        "max_in_flight": IN_FLIGHT,
        "load_average_1m_during_campaign": round(campaign_load, 2),  # mean of the 0.2 s samples
    }
    rows = [
        {"path": "Beacon (batched, 1,000/request)", "recipients": result["targeted"], "seconds": figures["seconds"],
         "recipients/s": figures["recipients_per_s"], "peak RSS MiB": figures["peak_rss_mib"]},
        {"path": "per-recipient loop", "recipients": loop_n, "seconds": round(loop_seconds, 2),
         "recipients/s": figures["loop_recipients_per_s"], "peak RSS MiB": ""},
    ] + [{"path": f"SMS sender {sender} (limit {SMS_RATE}/s)", "recipients": SMS_MESSAGES // len(sms), "seconds": "",
          "recipients/s": round(rate, 3), "peak RSS MiB": ""} for sender, rate in sorted(sms.items())]
    goals = (figures["recipients_per_s"] >= 10_000, figures["speedup_vs_loop"] >= 20,
             figures["sms_max_measured_per_sender"] <= SMS_RATE, figures["fake_duplicates"] == 0)
    notes = (
        f"SQLite operational DB, fake SendGrid in its own process (it validates every request and records one "
        f"message per recipient; substitutions are applied only when messages are read). Send phase over "
        f"{SEND_PROCESSES} processes (RunOptions.processes). cpu_us_per_recipient is the run's CPU (planner and "
        f"sender processes), fake_cpu_us_per_recipient the fake's, total_* both (load-independent; "
        f"cpu_speedup_vs_loop compares those). calibration_*_us time sum(range(1000)) (8-10 us on an idle modern "
        f"core) to show how loaded the machine was. Peak RSS: the run's processes together (proportional set "
        f"size, so pages the forked senders share are counted once). Excluded: {json.dumps(result['excluded'])}, "
        f"held out {result['held_out']}. Phases (s): {json.dumps(result['phases'])}. Goals (>=10k/s, >=20x loop, SMS within {SMS_RATE}/s per sender, "
        f"no duplicates): {'met' if all(goals) else 'NOT met'} {goals}."
    )
    return {"name": "activation", "figures": figures, "rows": rows, "notes": notes}


def _write(result: dict, out: Path) -> None:
    """results.json/.md in ``out`` (the shape of ``python -m bench``), for runs at a chosen size."""
    from datetime import UTC, datetime

    from bench.__main__ import machine, markdown

    meta = {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"), "quick": False, "machine": machine()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({**meta, "benchmarks": [result]}, indent=2, default=str) + "\n")
    (out / "results.md").write_text(markdown([result], meta) + "\n")


if __name__ == "__main__":
    # python bench/bench_activation.py [RECIPIENTS LOOP_SAMPLE] [--quick] [--out DIR]
    if len(sys.argv) == 3 and sys.argv[1] == "--fake-providers":
        _serve_fake_providers(int(sys.argv[2]))
    else:
        sizes = [int(arg) for arg in sys.argv[1:] if arg.isdigit()]
        outcome = measure(*sizes) if len(sizes) == 2 else run(quick="--quick" in sys.argv)
        if "--out" in sys.argv:
            _write(outcome, Path(sys.argv[sys.argv.index("--out") + 1]))
        print(json.dumps(outcome, indent=2))
