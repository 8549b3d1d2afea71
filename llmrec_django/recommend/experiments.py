"""Experiments at serving time: which arm serves a user, and the shadow arms' lists.

Usage::

    from llmrec_django.recommend import experiments

    choice = experiments.arm_for(tenant, profile)     # None when no experiment is running
    choice.strategy, choice.experiment_name, choice.arm_name, choice.shadows

One experiment runs per tenant at a time (the admin refuses overlapping ones; if the data holds
several, the oldest running one serves). A user's first request inside it draws an arm from
``core.online_stats.assignment_bucket`` (hash of the experiment's key and the user's id) and the
arms' traffic; the choice is stored (``ExperimentAssignment``) so the user keeps their arm when
the traffic split changes later. The running experiments are cached per process for
``EXPERIMENT_CACHE_SECONDS``.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.utils import timezone

from llmrec_django.conf import llmrec_settings
from llmrec_django.core.online_stats import assignment_bucket, pick_arm
from llmrec_django.core.strategy import Strategy
from llmrec_django.database.caches import TenantCache
from llmrec_django.models import Experiment, ExperimentAssignment, Tenant, UserProfile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Arm:
    id: int
    name: str
    traffic: float
    is_control: bool
    is_shadow: bool
    strategy: Strategy


@dataclass(frozen=True)
class Plan:
    """A running (or scheduled) experiment as serving needs it."""

    id: int
    name: str
    key: str  # hashed with the user's id
    starts_at: Any
    ends_at: Any
    arms: tuple[Arm, ...]

    def is_running(self, at: Any) -> bool:
        return (self.starts_at is None or self.starts_at <= at) and (self.ends_at is None or at < self.ends_at)

    @property
    def shown_arms(self) -> list[Arm]:
        return [a for a in self.arms if not a.is_shadow and a.traffic > 0]

    @property
    def shadow_arms(self) -> list[Arm]:
        return [a for a in self.arms if a.is_shadow]


@dataclass(frozen=True)
class ArmChoice:
    experiment_id: int
    experiment_name: str
    arm: Arm
    shadows: tuple[Arm, ...]

    @property
    def strategy(self) -> Strategy:
        return self.arm.strategy


def _load_plans(tenant_id: int) -> list[Plan]:
    plans = []
    experiments = (
        Experiment.objects.filter(tenant_id=tenant_id, is_active=True)
        .exclude(ends_at__lte=timezone.now())
        .prefetch_related("arms")
        .order_by("created_at", "pk")
    )
    for experiment in experiments:
        try:
            arms = tuple(
                Arm(
                    id=arm.pk,
                    name=arm.name,
                    traffic=float(arm.traffic),
                    is_control=arm.is_control,
                    is_shadow=arm.is_shadow,
                    strategy=Strategy.from_dict(arm.strategy, name=arm.name),
                )
                for arm in experiment.arms.all()
            )
        except ValueError as exc:
            logger.error("Experiment %r has an invalid arm (%s); it does not run.", experiment.name, exc)
            continue
        if not any(not a.is_shadow and a.traffic > 0 for a in arms):
            continue
        plans.append(
            Plan(
                id=experiment.pk,
                name=experiment.name,
                key=f"{experiment.pk}:{experiment.salt}",
                starts_at=experiment.starts_at,
                ends_at=experiment.ends_at,
                arms=arms,
            )
        )
    return plans


plans = TenantCache("experiments", _load_plans, lambda: float(llmrec_settings.ONLINE["EXPERIMENT_CACHE_SECONDS"]))


def running_plan(tenant_id: int) -> Plan | None:
    now = timezone.now()
    return next((p for p in plans.get(tenant_id) if p.is_running(now)), None)


def arm_for(tenant: Tenant, profile: UserProfile) -> ArmChoice | None:
    """The arm of the running experiment that serves ``profile`` (assigned and stored on first
    use), or None when no experiment runs."""
    plan = running_plan(tenant.pk)
    if plan is None:
        return None
    by_id = {a.id: a for a in plan.arms}
    stored = (
        ExperimentAssignment.objects.filter(experiment_id=plan.id, user_id=profile.pk)
        .values_list("arm_id", flat=True)
        .first()
    )
    arm = by_id.get(stored) if stored is not None else None
    if arm is None or arm.is_shadow:
        shown = plan.shown_arms
        arm = shown[pick_arm(assignment_bucket(plan.key, profile.external_id), [a.traffic for a in shown])]
        if stored is None:
            ExperimentAssignment.objects.bulk_create(
                [ExperimentAssignment(experiment_id=plan.id, user_id=profile.pk, arm_id=arm.id)],
                ignore_conflicts=True,
            )
            # A concurrent first request may have stored the other draw: the stored one wins.
            stored = (
                ExperimentAssignment.objects.filter(experiment_id=plan.id, user_id=profile.pk)
                .values_list("arm_id", flat=True)
                .first()
            )
            arm = by_id.get(stored, arm)
        else:  # the stored arm is gone or became a shadow: move the user for good
            ExperimentAssignment.objects.filter(experiment_id=plan.id, user_id=profile.pk).update(arm_id=arm.id)
    return ArmChoice(experiment_id=plan.id, experiment_name=plan.name, arm=arm, shadows=tuple(plan.shadow_arms))


# ---------------------------------------------------------------------------------------------
# Shadow arms: scored after the response, off the request thread


class ShadowScorer:
    """Runs shadow-arm lists on one background thread; at most ``limit`` wait (then new ones
    are skipped and counted), so shadow scoring can never pile up behind real traffic."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.waiting = 0
        self.skipped = 0

    def submit(self, job: Any) -> None:
        if llmrec_settings.ONLINE["LOG_WRITES"] != "background":
            job()
            return
        if self._pid != os.getpid():  # a forked worker: the parent's thread is not here
            self.__init__(self.limit)
        with self._lock:
            if self.waiting >= self.limit:
                self.skipped += 1
                return
            self.waiting += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmrec-shadow")
        self._executor.submit(self._run, job)

    def _run(self, job: Any) -> None:
        try:
            job()
        except Exception:  # noqa: BLE001 - a shadow list that fails only goes unmeasured
            logger.exception("A shadow arm's list failed.")
        finally:
            connections.close_all()
            with self._lock:
                self.waiting -= 1


shadow_scorer = ShadowScorer()
