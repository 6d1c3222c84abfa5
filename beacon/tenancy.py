"""Tenant scoping as a type.

An ``OrgId`` is only produced by something that has established which organization the caller
may act for: the API's authenticated principal, a pipeline iterating over organizations, or
``create_organization``. Repositories and store functions take it as a required argument, so an
unscoped query cannot be written by accident (mypy rejects a bare ``int``).
"""

from typing import NewType

OrgId = NewType("OrgId", int)
