"""The users service's HTTP API: register, login, profile, admin list, and the public keys."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shop.common.events import publish
from shop.common.identity import Admin, CurrentUser
from shop.common.pagination import Page, Pagination
from shop.common.problems import Problem
from shop.common.service import DbSession, Service, create_service_app
from shop.common.settings import Settings
from shop.users.events import UserRegistered
from shop.users.models import User
from shop.users.passwords import hash_password, needs_rehash, verify_password
from shop.users.schemas import (
    AdminUserUpdate,
    JwksOut,
    LoginIn,
    ProfileUpdate,
    RegisterIn,
    TokenOut,
    UserOut,
)
from shop.users.tokens import KeyFile, PinnedKey, key_source

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_TOKEN_TTL = 900

auth = APIRouter(prefix="/auth", tags=["auth"])
users = APIRouter(prefix="/users", tags=["users"])
keys = APIRouter(tags=["auth"])


def _keys(request: Request) -> KeyFile | PinnedKey:
    source: KeyFile | PinnedKey = request.app.state.keys
    return source


async def create_user(
    session: DbSession, email: str, password: str, name: str, role: str = "customer"
) -> User:
    """Add a user and its ``UserRegistered`` event to the session's transaction (also used by the seed)."""
    user = User(email=email.lower(), name=name, password_hash=await hash_password(password), role=role)
    session.add(user)
    await session.flush()
    await publish(session, UserRegistered(user_id=str(user.id), email=user.email, name=user.name))
    return user


@auth.post("/register", status_code=status.HTTP_201_CREATED, responses={409: {"description": "Email taken"}})
async def register(body: RegisterIn, session: DbSession) -> UserOut:
    try:
        async with session.begin():
            user = await create_user(session, body.email, body.password, body.name)
    except IntegrityError:
        raise Problem(409, "An account with this email already exists") from None
    return UserOut.model_validate(user)


@auth.post("/login", responses={401: {"description": "Wrong email or password"}})
async def login(body: LoginIn, request: Request, session: DbSession) -> TokenOut:
    async with session.begin():
        user = await session.scalar(select(User).where(User.email == body.email.lower()))
        if not await verify_password(user.password_hash if user else None, body.password) or user is None:
            raise Problem(401, "Wrong email or password")
        if needs_rehash(user.password_hash):  # the hashing parameters were raised since it was set
            user.password_hash = await hash_password(body.password)
    ring = _keys(request).ring()
    return TokenOut(access_token=ring.issue(subject=str(user.id), role=user.role), expires_in=ring.token_ttl)


@keys.get("/.well-known/jwks.json", summary="Public keys that verify access tokens")
async def jwks(request: Request) -> JwksOut:
    return JwksOut.model_validate(_keys(request).ring().jwks())


async def _get(session: DbSession, user_id: uuid.UUID | str) -> User:
    user = await session.get(User, uuid.UUID(str(user_id)))
    if user is None:
        raise Problem(404, "No such user")
    return user


@users.get("/me", responses={401: {}, 404: {}})
async def me(identity: CurrentUser, session: DbSession) -> UserOut:
    return UserOut.model_validate(await _get(session, identity.user_id))


@users.patch("/me", responses={401: {}, 404: {}})
async def update_me(body: ProfileUpdate, identity: CurrentUser, session: DbSession) -> UserOut:
    async with session.begin():
        user = await _get(session, identity.user_id)
        if body.name is not None:
            user.name = body.name
        if body.password is not None:
            user.password_hash = await hash_password(body.password)
    return UserOut.model_validate(user)


@users.get("", responses={401: {}, 403: {}})
async def list_users(
    _admin: Admin,
    session: DbSession,
    page: Pagination,
    email: Annotated[str | None, Query(max_length=320, description="Part of the email address")] = None,
) -> Page[UserOut]:
    query = select(User)
    if email:
        query = query.where(User.email.contains(email.lower(), autoescape=True))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(User.created_at, User.id).limit(page.limit).offset(page.offset)
    )
    return page.page([UserOut.model_validate(u) for u in rows], total)


@users.get("/{user_id}", responses={401: {}, 403: {}, 404: {}})
async def get_user(user_id: uuid.UUID, identity: CurrentUser, session: DbSession) -> UserOut:
    if not identity.can_see(str(user_id)):
        raise Problem(403, "You can only see your own account")
    return UserOut.model_validate(await _get(session, user_id))


@users.patch("/{user_id}", responses={401: {}, 403: {}, 404: {}})
async def update_user(
    user_id: uuid.UUID, body: AdminUserUpdate, _admin: Admin, session: DbSession
) -> UserOut:
    async with session.begin():
        user = await _get(session, user_id)
        if body.name is not None:
            user.name = body.name
        if body.role is not None:  # takes effect at the user's next login: tokens are short-lived
            user.role = body.role
    return UserOut.model_validate(user)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env("users")
    service = Service(settings, migrations=MIGRATIONS)
    app = create_service_app(
        service,
        title="Shop users",
        description="Accounts, login, and the signing keys of the access tokens the gateway verifies.",
        routers=[auth, users, keys],
    )
    app.state.keys = signing_keys(settings)
    return app


def signing_keys(settings: Settings) -> KeyFile | PinnedKey:
    key_file = Path(
        settings.get("USERS_SIGNING_KEY_FILE", str(settings.data_dir / "users-signing-keys.json"))
    )
    ttl = int(settings.get("USERS_TOKEN_TTL", str(DEFAULT_TOKEN_TTL)))
    return key_source(settings.get("USERS_SIGNING_KEY"), key_file, ttl)
