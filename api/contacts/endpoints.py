from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, UploadFile, status

from api.contacts import service
from api.contacts.schemas import ContactCreate, ContactExport, ContactOut, ContactUpdate
from api.deps import Manager, Marketer, SessionDep, SettingsDep, Viewer
from api.errors import ERROR_RESPONSES
from api.pagination import Page, PageParams, page_params
from beacon.schema.models import ContactStatus

router = APIRouter(prefix="/contacts", tags=["contacts"], responses=ERROR_RESPONSES)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[ContactOut], summary="List contacts, filtered")
def list_contacts(
    principal: Viewer, session: SessionDep, page: PageDep,
    status: ContactStatus | None = None,
    contact_type: Annotated[str | None, Query(description="Contact-type code, e.g. `customer`.")] = None,
    tag: str | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="Search email and name.")] = None,
):
    page = service.list_contacts(session, principal.org, page, status=status, contact_type=contact_type, tag=tag, q=q)
    # Already validated as Page[ContactOut]: serialized once here rather than dumped and re-validated
    # against response_model (which stays for the docs). Measured in bench/bench_contacts_list.py.
    return Response(service.CONTACT_PAGE.dump_json(page), media_type="application/json")


@router.post("", response_model=ContactOut, status_code=status.HTTP_201_CREATED)
def create_contact(body: ContactCreate, principal: Marketer, session: SessionDep) -> ContactOut:
    return service.create_contact(session, principal.org, body)


@router.post("/import", summary="Import a CSV or XLSX file of contacts (same importer as the pipeline)")
def import_contacts(file: UploadFile, principal: Marketer, session: SessionDep, settings: SettingsDep) -> dict:
    return service.import_file(session, principal.org, file.file.read(), file.filename or "upload.csv", settings.warehouse)


@router.get("/{contact_id}", response_model=ContactOut)
def get_contact(contact_id: int, principal: Viewer, session: SessionDep) -> ContactOut:
    return service.get_contact(session, principal.org, contact_id)


@router.patch("/{contact_id}", response_model=ContactOut)
def update_contact(contact_id: int, body: ContactUpdate, principal: Marketer, session: SessionDep) -> ContactOut:
    return service.update_contact(session, principal.org, contact_id, body)


@router.delete("/{contact_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a contact and its sends (prefer erase for a GDPR request)")
def delete_contact(contact_id: int, principal: Marketer, session: SessionDep) -> Response:
    service.delete_contact(session, principal.org, contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{contact_id}/export", response_model=ContactExport, summary="GDPR export: everything held on the contact")
def export_contact(contact_id: int, principal: Manager, session: SessionDep) -> ContactExport:
    return service.export_contact(session, principal.org, contact_id)


@router.post("/{contact_id}/erase", response_model=ContactOut, summary="GDPR erasure (manager)")
def erase_contact(contact_id: int, principal: Manager, session: SessionDep) -> ContactOut:
    return service.erase_contact(session, principal.org, contact_id)
