from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.billing import service
from api.billing.schemas import PlanOut, SubscriptionChange, SubscriptionOut
from api.deps import Admin, SessionDep, Viewer
from api.errors import ERROR_RESPONSES
from api.pagination import Page, PageParams, page_params

router = APIRouter(tags=["billing"], responses=ERROR_RESPONSES)
PageDep = Annotated[PageParams, Depends(page_params)]


@router.get("/plans", response_model=Page[PlanOut], summary="Available plans")
def list_plans(principal: Viewer, session: SessionDep, page: PageDep,
               feature: Annotated[str | None, Query(examples=["sms"])] = None):
    return service.list_plans(session, page, feature)


@router.get("/subscription", response_model=SubscriptionOut, summary="The organization's subscription")
def get_subscription(principal: Viewer, session: SessionDep) -> SubscriptionOut:
    return service.get_subscription(session, principal.org)


@router.put("/subscription", response_model=SubscriptionOut, summary="Change plan (admin)")
def change_plan(body: SubscriptionChange, principal: Admin, session: SessionDep) -> SubscriptionOut:
    return service.change_plan(session, principal.org, body)
