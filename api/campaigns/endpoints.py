from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.campaigns import service
from api.campaigns.schemas import CampaignAnalytics, CampaignCreate, CampaignDetail, CampaignOut, CampaignUpdate, RecipientOutcome, ScheduleRequest
from api.deps import Manager, Marketer, SessionDep, Viewer, WarehouseDep
from api.errors import ERROR_RESPONSES
from api.pagination import Page, PageParams, page_params, uuid_page_params
from beacon.schema.models import CampaignStatus, Channel, SendStatus

router = APIRouter(prefix="/campaigns", tags=["campaigns"], responses=ERROR_RESPONSES)
PageDep = Annotated[PageParams, Depends(page_params)]
UuidPageDep = Annotated[PageParams, Depends(uuid_page_params)]


@router.get("", response_model=Page[CampaignOut])
def list_campaigns(principal: Viewer, session: SessionDep, page: PageDep, status: CampaignStatus | None = None,
                   channel: Channel | None = None):
    return service.list_campaigns(session, principal.org, page, status, channel)


@router.post("", response_model=CampaignOut, status_code=status.HTTP_201_CREATED, summary="Create a draft campaign")
def create_campaign(body: CampaignCreate, principal: Marketer, session: SessionDep) -> CampaignOut:
    return service.create_campaign(session, principal.org, body)


@router.get("/{campaign_id}", response_model=CampaignDetail, summary="A campaign with its send-ledger counts")
def get_campaign(campaign_id: int, principal: Viewer, session: SessionDep) -> CampaignDetail:
    return service.get_campaign(session, principal.org, campaign_id)


@router.patch("/{campaign_id}", response_model=CampaignOut)
def update_campaign(campaign_id: int, body: CampaignUpdate, principal: Marketer, session: SessionDep) -> CampaignOut:
    return service.update_campaign(session, principal.org, campaign_id, body)


@router.delete("/{campaign_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_campaign(campaign_id: int, principal: Marketer, session: SessionDep) -> Response:
    service.delete_campaign(session, principal.org, campaign_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{campaign_id}/schedule", response_model=CampaignOut, summary="Schedule a campaign (manager)")
def schedule_campaign(campaign_id: int, body: ScheduleRequest, principal: Manager, session: SessionDep) -> CampaignOut:
    return service.schedule(session, principal.org, campaign_id, body)


@router.post("/{campaign_id}/send", response_model=CampaignOut, summary="Send now: queue for activation (manager)")
def send_campaign(campaign_id: int, principal: Manager, session: SessionDep) -> CampaignOut:
    return service.send_now(session, principal.org, campaign_id)


@router.post("/{campaign_id}/cancel", response_model=CampaignOut, summary="Cancel a draft, scheduled or queued campaign (manager)")
def cancel_campaign(campaign_id: int, principal: Manager, session: SessionDep) -> CampaignOut:
    return service.cancel(session, principal.org, campaign_id)


@router.get("/{campaign_id}/recipients", response_model=Page[RecipientOutcome], summary="Per-recipient outcomes")
def campaign_recipients(campaign_id: int, principal: Viewer, session: SessionDep, page: UuidPageDep,
                        status: SendStatus | None = None):
    return service.recipients(session, principal.org, campaign_id, page, status.value if status else None)


@router.get("/{campaign_id}/analytics", response_model=CampaignAnalytics,
            summary="Per-variant performance, daily series and holdout lift (from the warehouse marts)")
def campaign_analytics(campaign_id: int, principal: Viewer, session: SessionDep, warehouse: WarehouseDep) -> CampaignAnalytics:
    return service.analytics(session, warehouse, principal.org, campaign_id)
