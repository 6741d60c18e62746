"""Plain-HTTP reads of the Azure DevOps REST API for discovery (ado-governance.md §3.0).

Why not the ``azure-devops`` SDK here: the 7.1 SDK drops the ``x-ms-continuationtoken`` response
header on every list call, so paged lists cannot be followed with it. Writes (the sync conversion)
stay on the SDK through the sync provider.

The same guarantees as the sync provider's SDK seam:
- the credential is bound to the connection's host: one ``requests`` session through
  ``secrets_app.outbound.PinnedAdapter`` bound to the organization URL's host (public addresses
  only, the checked address dialled, no redirects followed);
- ``X-TFS-FedAuthRedirect: Suppress``, and any ``text/html`` success (the 203 sign-in page) is an
  authentication failure;
- 429 and 5xx are retried here, waiting the server's ``Retry-After`` (capped) or an exponential
  backoff with jitter; every wait is counted in ``stats.throttled``;
- at most ``concurrency`` requests in flight per client (one client per scan, one scan per
  organization: the per-organization concurrency limit);
- errors are ``syncs.providers.base`` ProviderErrors whose message names the operation and the
  status, never a header or a body.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from secrets_app import outbound
from syncs.providers.base import AuthError, ConfigError, ProviderError, TransientError

API_VERSION = "7.1"
PREVIEW = "7.1-preview.1"  # pipelinepermissions, checks, oidctoken (§3.0)


@dataclass
class RestStats:
    """Counters of one client, read by the scan's progress."""

    requests: int = 0
    throttled: int = 0  # 429s waited out
    retried: int = 0  # every retry (429 and 5xx and connection errors)
    waited_seconds: float = 0.0


class NotFoundError(ConfigError):
    """404: the object or project is gone (a scan skips it)."""


def _retry_after(value: str | None) -> float | None:
    from syncs.providers.azure_devops.client import _retry_after as parse

    return parse(value)


class AdoRest:
    """Read-only client of one Azure DevOps organization with one credential.

    ``AdoRest.for_connection(connection)`` opens a Strongroom Azure DevOps connection (PAT, OAuth
    token or Entra client secret) in memory. ``sleep`` is injectable so tests of the backoff need
    not wait (the real one is ``time.sleep``)."""

    def __init__(
        self,
        org_url: str,
        auth: Any,
        *,
        concurrency: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from syncs.netguard import check_destination_url

        self.org_url = check_destination_url(org_url, field="organization_url")
        self.session = outbound.session(bound_to=[self.org_url])
        auth.signed_session(self.session)  # msrest credentials set Basic or Bearer on the session
        self.session.headers.update({"Accept": "application/json", "X-TFS-FedAuthRedirect": "Suppress"})
        self.stats = RestStats()
        self._slots = threading.BoundedSemaphore(max(1, concurrency or settings.STRONGROOM_ESTATE_CONCURRENCY))
        self._stats_lock = threading.Lock()
        self._sleep = sleep

    @classmethod
    def for_connection(cls, connection: Any, **kwargs: Any) -> AdoRest:
        from syncs.providers.azure_devops.client import credentials_for
        from syncs.services.connections import connection_info

        info = connection_info(connection)
        auth = credentials_for(info.method, dict(info.credentials), dict(info.config))
        return cls(str(connection.config.get("organization_url", "")), auth, **kwargs)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> AdoRest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- one request ----------------------------------------------------------------------------
    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, what: str, api_version: str = API_VERSION
    ) -> tuple[Any, Mapping[str, str]]:
        """``GET {org_url}/{path}`` → (JSON body, response headers). *path* is relative to the
        organization (``proj/_apis/…`` or ``_apis/projects``); *what* names the operation in errors."""
        query = {key: value for key, value in (params or {}).items() if value is not None and value != ""}
        query["api-version"] = api_version
        url = f"{self.org_url}/{path.lstrip('/')}"
        attempts = max(0, settings.STRONGROOM_ESTATE_RETRIES) + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                with self._slots:
                    self._count(requests=1)
                    response = self.session.get(
                        url, params=query, timeout=settings.STRONGROOM_SYNC_HTTP_TIMEOUT, allow_redirects=False
                    )
            except requests.RequestException as exc:
                refusal = outbound.refusal_in(exc)
                if refusal is not None:
                    from syncs.providers.azure_devops.client import refused

                    raise refused(refusal, what) from None
                if last:
                    raise TransientError(f"could not reach Azure DevOps while trying to {what}") from None
                self._wait(None, attempt, throttled=False)
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                if last:
                    raise TransientError(
                        f"Azure DevOps answered {status} while trying to {what}",
                        retry_after=_retry_after(response.headers.get("Retry-After")),
                        status=status,
                    )
                self._wait(response.headers.get("Retry-After"), attempt, throttled=status == 429)
                continue
            return self._body(response, what), response.headers
        raise AssertionError("unreachable")  # pragma: no cover

    def _body(self, response: requests.Response, what: str) -> Any:
        status = response.status_code
        content_type = response.headers.get("Content-Type", "")
        if status in (401, 403):
            raise AuthError(f"Azure DevOps refused access ({status}) while trying to {what}", status=status)
        if 200 <= status < 300 and "text/html" in content_type:
            raise AuthError(f"Azure DevOps answered with a sign-in page while trying to {what}", status=203)
        if status == 404:
            raise NotFoundError(f"Azure DevOps answered 404 while trying to {what}", status=404)
        if 300 <= status < 400:
            raise ConfigError(f"Azure DevOps redirected ({status}) while trying to {what}; not followed", status=status)
        if status >= 400:
            raise ConfigError(f"Azure DevOps answered {status} while trying to {what}", status=status)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"Azure DevOps answered something that is not JSON while trying to {what}") from None

    def _wait(self, retry_after: str | None, attempt: int, *, throttled: bool) -> None:
        cap = float(settings.STRONGROOM_ESTATE_MAX_RETRY_WAIT)
        told = _retry_after(retry_after)
        delay = min(cap, told) if told is not None else min(cap, (2**attempt) * 0.5 + random.uniform(0, 0.5))  # noqa: S311 - jitter
        self._count(retried=1, throttled=1 if throttled else 0, waited_seconds=delay)
        self._sleep(delay)

    def _count(self, **amounts: float) -> None:
        with self._stats_lock:
            for name, amount in amounts.items():
                setattr(self.stats, name, getattr(self.stats, name) + amount)

    # --- lists ----------------------------------------------------------------------------------
    def pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        what: str,
        api_version: str = API_VERSION,
        top: int | None = None,
    ) -> Iterator[list[Any]]:
        """Every page of a ``{"count", "value"}`` list, following ``x-ms-continuationtoken``
        (opaque, per resource) until the server sends none. A token seen twice ends the walk (a
        server that loops would otherwise never stop)."""
        size = top or settings.STRONGROOM_ESTATE_PAGE_SIZE
        token: str | None = None
        seen: set[str] = set()
        while True:
            query = {**(params or {}), "$top": size, "continuationToken": token}
            body, headers = self.get(path, query, what=what, api_version=api_version)
            yield list((body or {}).get("value") or []) if isinstance(body, dict) else []
            token = headers.get("x-ms-continuationtoken") or None
            if not token or token in seen:
                return
            seen.add(token)

    def items(self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Iterator[Any]:
        for page in self.pages(path, params, **kwargs):
            yield from page
