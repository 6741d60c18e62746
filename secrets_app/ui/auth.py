"""Login (password, then TOTP or a recovery code when the person has one), logout, and the account
page (password, TOTP and its recovery codes, tokens).

Login goes through Django's ``authenticate``/``login`` so the login audit signals fire. With a
second factor, the session holds only a *pending* login (user id, backend, deadline, attempts)
until the code is checked; ``login`` is called after that, never before.

Lockout (secrets_app/person_lockout.py, django-axes): a wrong password and a wrong code both count
against the account (whatever the pending login) and the client address; while locked, the right
and the wrong password get the same 429 page. Only a complete login (password, then code when
there is one) clears the account's failures, and it does so before ``login`` so that a lockout
store that cannot be written refuses the login (503) instead of failing after it was granted.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import segno
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import authenticate, get_user_model, login, logout, update_session_auth_hash
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import retarget

from secrets_app.errors import DomainError
from secrets_app.person_lockout import LoginLockoutUnavailable, lockout_clear, lockout_refusal_record, lockout_settings
from secrets_app.selectors.personal_tokens import personal_token_list
from secrets_app.services import personal_tokens as token_services
from secrets_app.services import users as user_services
from secrets_app.services.people import password_change
from secrets_app.services.recovery_codes import (
    RECOVERY_CODE_COUNT,
    recovery_code_use,
    recovery_codes_regenerate,
    recovery_codes_remaining,
    user_totp_enable,
)
from secrets_app.services.sso_login import PasswordRefused, password_login_check, password_login_completed
from secrets_app.ui.account_forms import RecoveryCodeLoginForm, RecoveryCodesRegenerateForm
from secrets_app.ui.forms import LoginForm, PasswordChangeForm, TokenCreateForm, TotpForm
from secrets_app.ui.framework import apply_domain_error, is_htmx, login_required, no_store, page_or_partial

PENDING_KEY = "strongroom_pending_login"
PENDING_SECONDS = 300
PENDING_ATTEMPTS = 5
# password_change names fields the API way.
PASSWORD_FIELDS = {"currentPassword": "current_password", "newPassword": "new_password"}


def _locked_message() -> str:
    minutes = max(1, round(lockout_settings()["seconds"] / 60))
    return (
        f"Too many failed sign-in attempts. Try again in {minutes} minutes, "
        "or ask an organization admin to unlock your account."
    )


def _login_refused(request: HttpRequest, form: LoginForm, *, message: str, status: int) -> HttpResponse:
    context = {"form": form, "next": _next_url(request), "refusal": message}
    return render(request, "pages/login.html", context, status=status)


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return reverse("governance:home")  # the dashboard


def _password_refusal(user: Any) -> str | None:
    """Why this person may not sign in with a password (their organization requires SSO), or None."""
    try:
        password_login_check(user=user)
    except PasswordRefused as exc:
        return exc.message
    return None


def _client_ip(request: HttpRequest) -> str:
    return str(getattr(request, "axes_ip_address", "") or request.META.get("REMOTE_ADDR", ""))


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("ui:project_list")


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        try:
            user = authenticate(request, username=email, password=form.cleaned_data["password"])
            if user is not None and not user_services.user_totp_required(user):
                lockout_clear(username=email)  # a complete login forgets the account's failures
        except LoginLockoutUnavailable as exc:
            lockout_refusal_record(username=email)
            return _login_refused(request, form, message=exc.message, status=exc.status)
        if getattr(request, "axes_locked_out", False):
            return _login_refused(request, form, message=_locked_message(), status=429)
        if user is None:
            form.add_error(None, "That email and password do not match an account.")
            status = 401
        elif refusal := _password_refusal(user):
            return _login_refused(request, form, message=refusal, status=403)
        elif user_services.user_totp_required(user):
            request.session.cycle_key()
            request.session[PENDING_KEY] = {
                "user_id": user.pk,
                "backend": user.backend,  # set by authenticate()
                "next": _next_url(request),
                "deadline": time.time() + PENDING_SECONDS,
                "attempts": 0,
            }
            return redirect("ui:login_totp")
        else:
            login(request, user)
            password_login_completed(user=user, client_ip=_client_ip(request))
            return redirect(_next_url(request))
    return render(request, "pages/login.html", {"form": form, "next": _next_url(request)}, status=status)


def _pending(request: HttpRequest) -> tuple[dict[str, Any], Any] | None:
    pending = request.session.get(PENDING_KEY)
    if not pending or pending["deadline"] < time.time() or pending["attempts"] >= PENDING_ATTEMPTS:
        request.session.pop(PENDING_KEY, None)
        return None
    user = get_user_model().objects.filter(pk=pending["user_id"], is_active=True).first()
    return (pending, user) if user is not None else None


@require_http_methods(["GET", "POST"])
def login_totp(request: HttpRequest) -> HttpResponse:
    found = _pending(request)
    if found is None:
        return redirect("ui:login")
    pending, user = found
    # A recovery code comes from its own form on the page; it is counted like a TOTP code.
    by_recovery = request.method == "POST" and "recovery_code" in request.POST
    form: TotpForm | RecoveryCodeLoginForm = (
        RecoveryCodeLoginForm(request.POST) if by_recovery else TotpForm(request.POST or None)
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        credentials = {"username": user.get_username()}
        try:
            # Locked meanwhile (by this login's earlier codes or by guesses from elsewhere): refused
            # before the code is looked at, like a password during the lock.
            if not AxesProxyHandler.is_allowed(request, credentials):
                request.session.pop(PENDING_KEY, None)
                return _login_refused(request, LoginForm(), message=_locked_message(), status=429)
            if _second_factor_ok(user, form):
                lockout_clear(username=user.get_username())
                request.session.pop(PENDING_KEY, None)
                login(request, user, backend=pending["backend"])
                password_login_completed(user=user, client_ip=_client_ip(request))
                return redirect(pending["next"])
            pending["attempts"] += 1
            request.session[PENDING_KEY] = pending
            # Recorded like any failed login (username only), and counted by the lockout.
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        except LoginLockoutUnavailable as exc:
            lockout_refusal_record(username=user.get_username())
            form.add_error(None, exc.message)
            return _totp_page(request, user, form, status=exc.status)
        if getattr(request, "axes_locked_out", False):
            request.session.pop(PENDING_KEY, None)
            return _login_refused(request, LoginForm(), message=_locked_message(), status=429)
        if by_recovery:
            form.add_error("recovery_code", "That recovery code is not valid, or it was used already.")
        else:
            form.add_error("code", "That code is not valid. Codes change every 30 seconds.")
        status = 401
        if pending["attempts"] >= PENDING_ATTEMPTS:
            request.session.pop(PENDING_KEY, None)
            return redirect("ui:login")
    return _totp_page(request, user, form, status=status)


def _second_factor_ok(user: Any, form: TotpForm | RecoveryCodeLoginForm) -> bool:
    if isinstance(form, RecoveryCodeLoginForm):
        return recovery_code_use(user=user, code=form.cleaned_data["recovery_code"])
    return user_services.user_totp_check(user=user, code=form.cleaned_data["code"])


def _totp_page(request: HttpRequest, user: Any, form: TotpForm | RecoveryCodeLoginForm, *, status: int) -> HttpResponse:
    """The second step; the form that was posted keeps its errors, the other one is fresh."""
    recovery = isinstance(form, RecoveryCodeLoginForm)
    context = {
        "form": TotpForm() if recovery else form,
        "recovery_form": form if recovery else RecoveryCodeLoginForm(),
        "recovery_open": recovery,
        "email": user.email,
    }
    return render(request, "pages/login_totp.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("ui:login")


# --- account ---------------------------------------------------------------------------------


def _account_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        "totp_enabled": user_services.user_totp_required(request.user),
        "recovery_remaining": recovery_codes_remaining(request.user),
        "recovery_total": RECOVERY_CODE_COUNT,
        "recovery_form": RecoveryCodesRegenerateForm(),
        "tokens": personal_token_list(request.user),
        "token_form": TokenCreateForm(),
        "totp_form": TotpForm(),
        "password_form": PasswordChangeForm(),
        **extra,
    }


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/account.html", _account_context(request))


@login_required
@require_POST
def password_change_view(request: HttpRequest) -> HttpResponse:
    """Success keeps this session (its auth hash is renewed) and ends every other one."""
    form = PasswordChangeForm(request.POST)
    if form.is_valid():
        try:
            password_change(
                user=request.user,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except DomainError as exc:
            apply_domain_error(form, exc, aliases=PASSWORD_FIELDS)
        else:
            update_session_auth_hash(request, request.user)
            notice = "Password changed. Your other sessions are signed out."
            context = _account_context(request, password_notice=notice)
            return page_or_partial(request, "pages/account.html", context, partial="password")
    context = _account_context(request, password_form=form)
    return page_or_partial(request, "pages/account.html", context, partial="password", status=422)


def _totp_secret(uri: str) -> str:
    return parse_qs(urlparse(uri).query).get("secret", [""])[0]


def totp_qr_svg(uri: str) -> SafeString:
    """The otpauth:// URI as an inline SVG QR code (segno, server-side: the secret never leaves for an
    image service). Plain SVG: no style attribute, no script, no external reference."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000", light="#fff")
    return mark_safe(  # noqa: S308 - segno output from our own URI; no user markup
        svg.replace("<svg ", '<svg role="img" aria-label="QR code of the authenticator setup key" ', 1)
    )


@login_required
@require_POST
def totp_begin(request: HttpRequest) -> HttpResponse:
    try:
        uri = user_services.user_totp_begin(user=request.user)
    except DomainError as exc:
        context = _account_context(request, totp_error=exc.message)
        return page_or_partial(request, "pages/account.html", context, partial="totp", status=exc.status)
    context = _account_context(request, totp_uri=uri, totp_secret=_totp_secret(uri), totp_qr=totp_qr_svg(uri))
    return no_store(page_or_partial(request, "pages/account.html", context, partial="totp"))


@login_required
@require_POST
def totp_confirm(request: HttpRequest) -> HttpResponse:
    """Success replaces the whole TOTP section; a wrong code re-renders only the code form, so the
    setup key shown above it stays on screen."""
    form = TotpForm(request.POST)
    codes = user_totp_enable(user=request.user, code=form.cleaned_data["code"]) if form.is_valid() else None
    if codes is not None:
        context = _account_context(
            request,
            totp_notice="Two-factor authentication is on. You will be asked for a code at every login.",
            new_recovery_codes="\n".join(codes),
        )
        # The recovery codes are in this response only: never cache it.
        response = no_store(page_or_partial(request, "pages/account.html", context, partial="totp"))
        return retarget(response, "#totp") if is_htmx(request) else response
    if form.is_valid():
        form.add_error("code", "That code is not valid. Codes change every 30 seconds.")
    context = _account_context(request, totp_form=form)
    return page_or_partial(request, "pages/account.html", context, partial="totp_confirm_form", status=422)


@login_required
@require_POST
def totp_disable(request: HttpRequest) -> HttpResponse:
    form = TotpForm(request.POST)
    if form.is_valid() and user_services.user_totp_check(user=request.user, code=form.cleaned_data["code"]):
        user_services.user_totp_disable(user=request.user)
        context = _account_context(request, totp_notice="Two-factor authentication is off.")
        return page_or_partial(request, "pages/account.html", context, partial="totp")
    if form.is_valid():
        form.add_error("code", "That code is not valid.")
    return page_or_partial(
        request, "pages/account.html", _account_context(request, totp_form=form), partial="totp", status=422
    )


@login_required
@require_POST
def recovery_codes_regenerate_view(request: HttpRequest) -> HttpResponse:
    """New recovery codes (the old ones stop working), proven by the password or a TOTP code."""
    form = RecoveryCodesRegenerateForm(request.POST)
    if form.is_valid():
        try:
            codes = recovery_codes_regenerate(user=request.user, password_or_code=form.cleaned_data["password_or_code"])
        except DomainError as exc:
            apply_domain_error(form, exc, aliases={"passwordOrCode": "password_or_code"})
        else:
            notice = "New recovery codes are ready; the old ones no longer work."
            context = _account_context(request, totp_notice=notice, new_recovery_codes="\n".join(codes))
            return no_store(page_or_partial(request, "pages/account.html", context, partial="totp"))
    context = _account_context(request, recovery_form=form)
    return page_or_partial(request, "pages/account.html", context, partial="totp", status=422)


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if form.is_valid():
        try:
            token, raw = token_services.personal_token_create(
                user=request.user, name=form.cleaned_data["name"], expires_in_days=form.cleaned_data["expires_in_days"]
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            context = _account_context(request, new_token=raw, new_token_name=token.name)
            # The token is in this response only: never cache it.
            return no_store(page_or_partial(request, "pages/account.html", context, partial="tokens"))
    context = _account_context(request, token_form=form)
    return page_or_partial(request, "pages/account.html", context, partial="tokens", status=422)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token_services.personal_token_revoke(user=request.user, token_id=token_id)
    except DomainError as exc:
        context = _account_context(request, token_error=exc.message)
        return page_or_partial(request, "pages/account.html", context, partial="tokens", status=exc.status)
    return page_or_partial(request, "pages/account.html", _account_context(request), partial="tokens")
