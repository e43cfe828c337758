"""Each user's own profile page: their e-mail address and whether they get e-mail notifications
(issue 19, item 5: "each user chooses e-mail on or off in their profile"). The same change as
`PATCH /api/v1/auth/me`, through the same service, so it is a custody event (`user.changed`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.auth import service as auth_service
from app.auth.schemas import ProfileUpdate
from app.deps import RuntimeDep, SessionDep
from app.web.routes import WebUser, WritingWebUser, render
from app.web.session import check_csrf

router = APIRouter(include_in_schema=False)


@router.get("/profil", response_class=HTMLResponse)
def profile_page(request: Request, user: WebUser, runtime: RuntimeDep) -> HTMLResponse:
    saved = request.query_params.get("tersimpan") == "1"
    return render(request, runtime, "profile.html", user=user, saved=saved, error=None)


@router.post("/profil", response_model=None)
def save_profile(
    request: Request,
    user: WritingWebUser,
    runtime: RuntimeDep,
    session: SessionDep,
    csrf: Annotated[str, Form()],
    email: Annotated[str, Form()] = "",
    notify_email: Annotated[str | None, Form()] = None,
) -> Response:
    """Save the form; an unchecked box is not sent, so its absence turns e-mail off."""
    check_csrf(runtime, request, csrf)
    try:
        data = ProfileUpdate(email=email.strip() or None, notify_email=notify_email is not None)
    except ValidationError:
        error = "Alamat e-mail tidak valid."
        return render(request, runtime, "profile.html", 422, user=user, saved=False, error=error)
    auth_service.update_profile(session, user, data, runtime.clock.now())
    return RedirectResponse("/profil?tersimpan=1", status_code=303)
