"""Beacon's HTTP API (FastAPI): ``api.main.create_app``.

One folder per resource (``endpoints.py`` → ``service.py`` → ``repository.py``, with ``schemas.py``);
SQL lives only in repositories, which take the caller's ``OrgId``. Shared pieces: ``deps`` (session,
principal, role guards), ``errors`` (the one error shape), ``pagination``, ``security``, ``ratelimit``.
"""
