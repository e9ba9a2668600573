"""What a page depends on: the signed-in user (from the session cookie) and a transaction as them.

    @router.get("/things")
    async def things(request: Request, page: SignedInPage, session: PageSession) -> HTMLResponse:
        items = await things_service.list_things(session)          # same service as the API
        return render(request, "things/list.html", {"items": items}, viewer=page.viewer)

`PageSession` is the API's `UserSession` for the cookie's user: RLS as them, committed when the
route returns (rolled back when it raises). Without a valid session cookie, the page redirects
to /signin?next=<this page>.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from autofy.auth import service as auth_service
from autofy.auth.dependencies import AppSettings, Principal, user_transaction
from autofy.db.engine import Database
from autofy.dependencies import get_database
from autofy.errors import DomainError, NotFoundError
from autofy.notifications import service as notifications_service
from autofy.profiles import service as profiles_service
from autofy.web.rendering import THEMES, Theme, Viewer
from autofy.web.security import read_session_cookie


class SignInRequired(DomainError):
    """No (valid) session cookie: the web error handler redirects to the sign-in page."""

    status_code = 401
    code = "sign_in_required"
    default_message = "Sign in to continue."


async def get_page_principal(
    request: Request, settings: AppSettings, database: Annotated[Database, Depends(get_database)]
) -> Principal:
    browser = read_session_cookie(request, settings)
    if browser is None:
        raise SignInRequired()
    # Service role: auth.sessions is readable by the service role only.
    async with database.service_session() as session:
        try:
            return await auth_service.principal_from_session(
                session, user_id=browser.user_id, session_id=browser.session_id
            )
        except DomainError as error:
            raise SignInRequired() from error


PagePrincipal = Annotated[Principal, Depends(get_page_principal)]
PageSession = Annotated[AsyncSession, Depends(user_transaction(get_page_principal), scope="function")]


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    viewer: Viewer


async def _theme(session: AsyncSession) -> Theme:
    try:
        preference = await profiles_service.get_preference(session, "theme")
    except NotFoundError:
        return "system"
    return next((theme for theme in THEMES if theme == preference.value), "system")


async def get_signed_in(principal: PagePrincipal, session: PageSession) -> SignedIn:
    # The profile, not auth.users' sign-up metadata: the name the user set on the Account page.
    profile = await profiles_service.get_profile(session, principal)
    viewer = Viewer(
        email=profile.email,
        full_name=profile.full_name,
        theme=await _theme(session),
        unread_notifications=await notifications_service.count_unread(session),
    )
    return SignedIn(principal=principal, viewer=viewer)


SignedInPage = Annotated[SignedIn, Depends(get_signed_in)]
