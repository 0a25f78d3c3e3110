"""The notifications service's HTTP API: a user's notifications, newest first."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from sqlalchemy import func, select

from shop.common.identity import CurrentUser
from shop.common.pagination import Page, Pagination
from shop.common.service import DbSession, Service, create_service_app
from shop.common.settings import Settings
from shop.notifications import consumers
from shop.notifications.models import Notification
from shop.notifications.schemas import NotificationOut
from shop.notifications.senders import sender_from

MIGRATIONS = Path(__file__).parent / "migrations"

notifications = APIRouter(prefix="/notifications", tags=["notifications"])


@notifications.get("", summary="My notifications (anyone's, for an admin)", responses={401: {}})
async def list_notifications(
    identity: CurrentUser,
    session: DbSession,
    page: Pagination,
    user_id: Annotated[uuid.UUID | None, Query(description="Admin only: one user's notifications")] = None,
) -> Page[NotificationOut]:
    query = select(Notification)
    if not identity.is_admin:
        query = query.where(Notification.user_id == uuid.UUID(identity.user_id))
    elif user_id is not None:
        query = query.where(Notification.user_id == user_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(Notification.created_at.desc(), Notification.id).limit(page.limit).offset(page.offset)
    )
    return page.page([NotificationOut.model_validate(n) for n in rows], total)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env("notifications")
    service = Service(settings, migrations=MIGRATIONS)
    sender = sender_from(
        settings.get("NOTIFICATIONS_SMTP_URL"), settings.get("NOTIFICATIONS_FROM", "shop@localhost")
    )
    consumers.subscribe(service.events, sender)
    return create_service_app(
        service,
        title="Shop notifications",
        description="Messages sent to users about their account and orders.",
        routers=[notifications],
    )
