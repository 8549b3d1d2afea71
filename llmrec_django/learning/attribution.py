"""Attribution: engagement events credited to the list, position, strategy and model version that
showed the item.

Usage::

    from llmrec_django.learning.attribution import attribute
    attribute()                 # every tenant; also the Celery beat task ``attribute_events``
    attribute(tenant)           # and ``python manage.py llmrec_attribute``

An event of a type in ``LLMREC["ONLINE"]["ATTRIBUTION_WINDOWS"]`` is credited to one served,
non-shadow list of the same user that held its item and was served at most the type's window
before it: the list the event names (``context.list_id``, which the tracking script sends with
clicks) when it qualifies, else the latest one. One pass is a set-based ``INSERT ... SELECT``
over the events that arrived since the last pass (a cursor per tenant, by event id), so each
event is read once; ``ON CONFLICT DO NOTHING`` makes a repeated pass harmless. Events younger
than ``ATTRIBUTION_DELAY_SECONDS`` wait for the next pass, since the list that showed them may
still be in a web process's write buffer (``online.log``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection, transaction

from llmrec_django.conf import llmrec_settings
from llmrec_django.database.tenancy import resolve_tenant
from llmrec_django.models import AttributionCursor, Tenant
from llmrec_django.recommend import served_log as log

logger = logging.getLogger(__name__)

# A client's clock may run behind the server's: an event may carry a time up to this long before
# the list that showed its item was served.
CLOCK_SKEW_SECONDS = 300
EVENTS_PER_PASS = 100_000

_ATTRIBUTE_SQL = """
WITH windows(event_type, seconds) AS (SELECT * FROM unnest(%(types)s::text[], %(seconds)s::float8[])),
events AS (
    SELECT e.id, e.user_id, e.item_id, e.event_type, e.value, e.timestamp,
           e.context->>'list_id' AS named_list, w.seconds
    FROM llmrec_django_interaction e JOIN windows w ON w.event_type = e.event_type
    WHERE e.tenant_id = %(tenant)s AND e.id > %(after)s AND e.id <= %(upto)s
)
INSERT INTO llmrec_django_attribution
    (interaction_id, tenant_id, served_list_id, position, explored, event_type, value, seconds_after)
SELECT ev.id, %(tenant)s, s.id, s.position, s.position = ANY(s.explored), ev.event_type, ev.value,
       greatest(0, extract(epoch FROM ev.timestamp - s.served_at))
FROM events ev
JOIN LATERAL (
    SELECT sl.id, sl.served_at, sl.explored, array_position(sl.item_ids, ev.item_id) AS position
    FROM llmrec_django_servedlist sl
    WHERE sl.tenant_id = %(tenant)s AND sl.user_id = ev.user_id AND NOT sl.shadow
      AND sl.served_at <= ev.timestamp + make_interval(secs => %(skew)s)
      AND sl.served_at >= ev.timestamp - make_interval(secs => ev.seconds)
      AND ev.item_id = ANY(sl.item_ids)
    ORDER BY (sl.id::text = ev.named_list) DESC, sl.served_at DESC
    LIMIT 1
) s ON true
ON CONFLICT (interaction_id) DO NOTHING
"""


@dataclass
class AttributionPass:
    tenant: str
    events_read_up_to: int  # the cursor after the pass
    attributed: int


def _upto(tenant_id: int, after: int, delay: float) -> int | None:
    """The last event id a pass may read: just before the first event that is too young."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              (SELECT min(id) FROM llmrec_django_interaction
               WHERE tenant_id = %s AND id > %s AND created_at > clock_timestamp() - make_interval(secs => %s)),
              (SELECT max(id) FROM (SELECT id FROM llmrec_django_interaction
               WHERE tenant_id = %s AND id > %s ORDER BY id LIMIT %s) AS batch)
            """,
            [tenant_id, after, delay, tenant_id, after, EVENTS_PER_PASS],
        )
        first_young, last_of_batch = cursor.fetchone()
    if last_of_batch is None:
        return None
    upto = last_of_batch if first_young is None else min(last_of_batch, first_young - 1)
    return upto if upto > after else None


def attribute_tenant(tenant: Tenant) -> AttributionPass:
    options = llmrec_settings.ONLINE
    windows = {str(t): float(s) for t, s in options["ATTRIBUTION_WINDOWS"].items()}
    delay = float(options["ATTRIBUTION_DELAY_SECONDS"])
    if options["LOG_WRITES"] == "background":
        log.flush()  # this process's pending lists first
    attributed = 0
    with transaction.atomic():
        state, _ = AttributionCursor.objects.select_for_update().get_or_create(tenant=tenant)
        while (upto := _upto(tenant.pk, state.last_interaction_id, delay)) is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    _ATTRIBUTE_SQL,
                    {
                        "types": list(windows),
                        "seconds": list(windows.values()),
                        "tenant": tenant.pk,
                        "after": state.last_interaction_id,
                        "upto": upto,
                        "skew": CLOCK_SKEW_SECONDS,
                    },
                )
                attributed += max(cursor.rowcount, 0)
            state.last_interaction_id = upto
            state.save(update_fields=["last_interaction_id", "updated_at"])
    return AttributionPass(tenant=tenant.slug, events_read_up_to=state.last_interaction_id, attributed=attributed)


def attribute(tenant: Tenant | str | None = None) -> list[AttributionPass]:
    """One pass for ``tenant``, or for every tenant when None."""
    tenants = [resolve_tenant(tenant)] if tenant is not None else list(Tenant.objects.order_by("pk"))
    passes = [attribute_tenant(t) for t in tenants]
    for done in passes:
        if done.attributed:
            logger.info("Attributed %s events of tenant %s.", done.attributed, done.tenant)
    return passes
