"""The send phase over several processes, each with its own share of the audience.

One process sends at most about one core's worth: rendering substitutions, signing links and
serialising bodies hold the GIL (~100 µs of CPU per recipient, measured at 100k). With
``RunOptions.processes = n`` the pending rows are split by ``contact_id % n`` and each share is sent
by a forked child with its own engine, thread pool and mailer. Exactly-once is unchanged: every row
is still claimed (pending -> sending, committed) before its request, and the shares are disjoint.
The children share one stop flag (a fatal error anywhere stops them all) and, on SQLite, one write
lock. A child dies with its parent (PR_SET_PDEATHSIG), so a killed run leaves no sender behind;
the next run reconciles the rows it left ``sending``.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from typing import Any

from sqlalchemy import Engine

from activation import ledger
from activation.send import Outcome, Sender
from beacon.schema.db import make_engine
from beacon.schema.models import Channel

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1


def can_fan_out(engine: Engine, ctx: Any, processes: int) -> bool:
    # fork (the compiled templates and injected providers are inherited, not pickled) and prctl are Linux's
    return processes > 1 and ctx.channel is Channel.email and sys.platform == "linux" and engine.url.database != ":memory:"


def send(engine: Engine, ctx: Any, organization: Any, *, mailer: Any, texter: Any, options: Any) -> Outcome:
    """Reconcile, then send the pending rows with ``options.processes`` senders (one if it cannot fan out)."""
    first = Sender(engine, ctx, organization, mailer=mailer, texter=texter, options=options)
    if not can_fan_out(engine, ctx, options.processes):
        with ledger.sqlite_checkpoints_aside(engine):
            return first.run()
    first.run_reconcile()
    outcome = first.outcome
    context = multiprocessing.get_context("fork")
    write_lock = context.Lock() if engine.dialect.name == "sqlite" else None
    stop = context.Event()
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()  # no pooled connection may be shared with a child
    children = []
    for k in range(options.processes):
        receive, send_end = context.Pipe(duplex=False)
        proc = context.Process(target=_child, name=f"activation-send-{k}", daemon=True,
                               args=((k, options.processes), os.getpid(), url, ctx, organization, mailer, texter, options,
                                     write_lock, stop, send_end))
        proc.start()
        send_end.close()
        children.append((k, proc, receive))
    with ledger.sqlite_checkpoints_aside(engine):  # started after the forks: no thread or connection is inherited
        _collect(children, outcome, stop)
    return outcome


def _collect(children: list, outcome: Outcome, stop: Any) -> None:
    for k, proc, receive in children:
        try:
            part = receive.recv()
        except EOFError:  # died without reporting (killed, out of memory)
            part = Outcome(fatal=True, errors=[f"sender process {k} exited with code {proc.exitcode}"])
            stop.set()
        proc.join()
        outcome.sent += part.sent
        outcome.failed += part.failed
        outcome.reconciled += part.reconciled
        outcome.fatal = outcome.fatal or part.fatal
        outcome.errors.extend(part.errors)


def _child(partition: tuple[int, int], parent: int, url: str, ctx: Any, organization: Any, mailer: Any, texter: Any,
           options: Any, write_lock: Any, stop: Any, report: Any) -> None:
    _die_with_parent(parent)
    engine = make_engine(url)
    try:
        sender = Sender(engine, ctx, organization, mailer=mailer, texter=texter, options=options,
                        partition=partition, write_lock=write_lock, stop=stop)
        outcome = sender.run(reconcile=False)
    except BaseException as exc:  # report it: the parent decides the campaign's status
        log.exception("activation sender process failed")
        stop.set()
        outcome = Outcome(fatal=True, errors=[f"sender process {partition[0]}: {type(exc).__name__}: {exc}"])
    finally:
        engine.dispose()
    report.send(outcome)
    report.close()


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
