"""Who may do what, and which tenant a request works on.

- Anyone (throttled): read the catalogue (items, similar items, non-personalised search).
- A logged-in user: read and write their own data only: the ``UserProfile`` linked to their
  account in the request's tenant (``UserProfile.user``). Other users' profiles, conversations,
  exports answer 404, exactly like ids that do not exist (nobody can probe which users exist);
  events naming another user are a 403.
- Staff and API keys ("trusted"), beyond that, only what they were granted (``Grant``): an API key
  what its ``scopes`` name (read, events, catalogue, privacy), a staff account what its Django
  model permissions allow (superusers: everything), in the tenants it may work on.

A view's ``public_methods`` lists what anyone may call on it: the OpenAPI schema marks authentication optional
there and only there, the system check ``llmrec.E012`` reports any other view an anonymous caller
gets into, and the Schemathesis test checks that the others refuse requests without credentials.

Tenant of a request: an API key is bound to its tenant; staff may pick one with the
``X-LLMRec-Tenant: <slug>`` header among those that list them in ``Tenant.staff`` (superusers:
any); everyone else works on the default tenant (a header naming another tenant is a 403 for
them, and for an API key of another tenant).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from rest_framework import permissions
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request

from llmrec_django.api.errors import Conflict
from llmrec_django.conf import llmrec_settings
from llmrec_django.database.tenancy import UnknownTenant, resolve_tenant
from llmrec_django.models import ACCOUNT_PROFILE_ID, ApiKey, Tenant, UserProfile

TENANT_HEADER = "X-LLMRec-Tenant"
_TENANT_META = "HTTP_" + TENANT_HEADER.upper().replace("-", "_")
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")


def is_trusted(request) -> bool:
    """Staff, or a server with an API key: callers that may be granted more than their own data."""
    if isinstance(request.auth, ApiKey):
        return True
    user = request.user
    return bool(user and user.is_authenticated and user.is_staff)


@dataclass(frozen=True)
class Grant:
    """What acting beyond one's own data takes: an API key with ``scope``, or a staff account
    with the Django ``permission``."""

    scope: str
    permission: str

    def describe(self) -> str:
        return f'an API key with the "{self.scope}" scope, or staff with the permission {self.permission}'


READ_USERS = Grant("read", "llmrec_django.view_userprofile")  # profiles, lists, conversations
CHANGE_USERS = Grant("events", "llmrec_django.change_userprofile")  # their profile, conversations
WRITE_EVENTS = Grant("events", "llmrec_django.add_interaction")  # events naming any user
READ_REPORTS = Grant("read", "llmrec_django.view_experiment")  # experiments, reports, health counts
EXPORT_USERS = Grant("privacy", "llmrec_django.export_userprofile")
ERASE_USERS = Grant("privacy", "llmrec_django.delete_userprofile")
_CATALOGUE_ACTION = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}  # fmt: skip


def catalogue_grant(model: str, method: str) -> Grant:
    """Reading (``read``) or writing (``catalogue``) ``model`` ("item", "relation") with ``method``."""
    action = _CATALOGUE_ACTION.get(method.upper(), "change")
    return Grant("read" if action == "view" else "catalogue", f"llmrec_django.{action}_{model}")


def has_grant(request, grant: Grant) -> bool:
    if isinstance(request.auth, ApiKey):
        return request.auth.has_scope(grant.scope)
    user = request.user
    return bool(user and user.is_authenticated and user.is_staff and user.has_perm(grant.permission))


def require_grant(request, grant: Grant) -> None:
    """A 403 naming what is missing, unless the caller has ``grant``."""
    if not has_grant(request, grant):
        raise PermissionDenied(f"This needs {grant.describe()}.")


def may_work_on(user, tenant: Tenant) -> bool:
    """Whether a staff account may work on ``tenant`` through the API."""
    if user.is_superuser or tenant.slug == llmrec_settings.DEFAULT_TENANT:
        return True
    return tenant.staff.filter(pk=user.pk).exists()


def request_tenant(request) -> Tenant:
    wanted = (request.META.get(_TENANT_META) or "").strip()
    if isinstance(request.auth, ApiKey):
        if wanted and wanted != request.auth.tenant.slug:
            raise PermissionDenied(f"This API key belongs to tenant {request.auth.tenant.slug!r}, not {wanted!r}.")
        return request.auth.tenant
    if not wanted or wanted == llmrec_settings.DEFAULT_TENANT:
        return resolve_tenant(None)
    if not is_trusted(request):
        raise PermissionDenied(f"Only staff may choose a tenant with {TENANT_HEADER}.")
    if not _SLUG.fullmatch(wanted):
        raise ValidationError({TENANT_HEADER: ["Not a tenant slug (letters, digits, '-' and '_')."]})
    try:
        tenant = resolve_tenant(wanted)
    except UnknownTenant:
        raise NotFound(f"No tenant {wanted!r}.") from None
    if not may_work_on(request.user, tenant):
        raise PermissionDenied(f"You are not among the staff of tenant {wanted!r} (Tenant.staff).")
    return tenant


def own_profile(request, tenant: Tenant, *, create: bool = False) -> UserProfile | None:
    """The profile linked to the logged-in account in ``tenant``; with ``create``, one is made
    (external id ``account-<pk>``) when the account has none yet."""
    user = request.user
    if isinstance(request.auth, ApiKey) or not (user and user.is_authenticated):
        return None
    profile = UserProfile.objects.filter(tenant=tenant, user_id=user.pk).first()
    if profile is not None or not create:
        return profile
    external_id = ACCOUNT_PROFILE_ID.format(pk=user.pk)
    try:
        with transaction.atomic():
            return UserProfile.objects.create(tenant=tenant, user_id=user.pk, external_id=external_id)
    except IntegrityError:
        profile = UserProfile.objects.filter(tenant=tenant, user_id=user.pk).first()
        if profile is None:
            raise Conflict(
                f"Your account has no profile and the id {external_id!r} is taken; ask staff to link one."
            ) from None
        return profile


HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def public_methods(view) -> frozenset[str]:
    """The methods ``view`` (an APIView) opens to anyone: its ``public_methods``, none by default.
    The public ones are the catalogue, similar items, search (personalised only for whoever may
    see that profile), the links of the root, and the schema and its documentation pages; check
    ``llmrec.E012`` fails for any other view an anonymous caller gets into."""
    return frozenset(getattr(view, "public_methods", ()))


def allows_anonymous(view, method: str) -> bool:
    """Whether an anonymous caller (no session, no key) gets past every permission class of
    ``view`` (an APIView instance) for ``method``. Object-level permissions are not consulted:
    none of the API's views has any."""
    http_request = HttpRequest()
    http_request.method = method
    request = Request(http_request)
    request.user, request.auth = AnonymousUser(), None
    try:
        return all(permission.has_permission(request, view) for permission in view.get_permissions())
    except Exception:  # a permission that needs more of a request than this one cannot be judged here
        return False


NOT_YOURS = "No user {external_id!r} among the profiles you may access (your own)."


def check_profile_access(request, profile: UserProfile, grant: Grant = READ_USERS) -> None:
    """Nothing when ``profile`` is the caller's own, or the caller has ``grant``; a 403 naming
    the grant for staff and keys without it; else a 404, the same as for a profile that does not
    exist, so nobody can probe which users exist."""
    user = request.user
    own = not isinstance(request.auth, ApiKey) and user and user.is_authenticated and profile.user_id == user.pk
    if own:
        return
    if is_trusted(request):
        require_grant(request, grant)
        return
    raise NotFound(NOT_YOURS.format(external_id=profile.external_id))


class HasGrant(permissions.BasePermission):
    """A view's ``grant`` (for every method), or ``catalogue_model`` (reads and writes of it)."""

    def has_permission(self, request, view) -> bool:
        model = getattr(view, "catalogue_model", None)
        grant = catalogue_grant(model, request.method) if model else view.grant
        if has_grant(request, grant):
            return True
        self.message = f"This needs {grant.describe()}."
        return False


class CatalogueReadOnlyOrGrant(HasGrant):
    """Anyone reads the catalogue; writing ``view.catalogue_model`` takes the catalogue grant."""

    def has_permission(self, request, view) -> bool:
        return request.method in permissions.SAFE_METHODS or super().has_permission(request, view)


class IsAuthenticated(permissions.IsAuthenticated):
    message = "Log in, or send an API key (Authorization: Api-Key <key>)."
