"""The gateway's JSON API, mounted under /api/v1.

Platform endpoints (`/platform/...`) take a platform's API key and nothing else: the key
names the platform (`Caller.owner == ("platform", id)`), so every read and write is confined
to that platform's data, and an id or worker reference of another platform is answered as
not found. A person signed in to Keel, even one who operates the platform, uses the console
pages instead; a browser session here is not authenticated (401), and a person's own key
(owned by a worker, not a platform) is refused with 403 `platform_key_required`.

Worker endpoints (`/benefits`) take the worker's session or the worker's own key with
`ledger:read`.

Errors from the gateway's services (`keel.gateway.errors.GatewayError`) are answered in the
API's one error shape with the error's own status (422, 403, 404, 409) and, for a refused
batch, one detail per bad event: `{"index", "field": "events.3.gross", "message", "code"}`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from typing import Annotated, Any

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictInt, StrictStr, WithJsonSchema

from keel import sql
from keel.api.auth import ApiKeyBearer, ApiKeyHeader, caller, key_or_session, require_scope
from keel.api.errors import ApiError, error_response, with_errors
from keel.ledger.models import Journal

from . import services
from .errors import GatewayError
from .models import (
    ClearingBatch,
    EarningsEvent,
    EventCorrection,
    EventStatus,
    LinkStatus,
    Platform,
    WorkerLink,
)
from .services.events import MAX_AMOUNT, MAX_BATCH, BatchResult

# Platform endpoints accept keys only (see the module docstring).
platform_auth: list[Any] = [ApiKeyBearer(), ApiKeyHeader()]

platform_router = Router(tags=["platform"], auth=platform_auth)
worker_router = Router(tags=["benefits"], auth=key_or_session)
# Mounted once in keel.api.api under "" so the paths read /api/v1/platform/... and
# /api/v1/benefits.
router = Router()
router.add_router("/platform", platform_router)
router.add_router("/benefits", worker_router)


class PlatformKeyRequired(ApiError):
    status = 403
    code = "platform_key_required"


class WorkerOnly(ApiError):
    status = 403
    code = "worker_only"


def platform_of(request: HttpRequest, scope: str | None) -> Platform:
    """The platform whose key made this request, if the key has `scope`."""
    who = caller(request)
    owner_type, owner_id = who.owner
    if owner_type != "platform":
        raise PlatformKeyRequired(
            "this endpoint takes a platform's API key (create one in the platform console or"
            " with `keel platform key`); a person's own key acts for their own books"
        )
    if scope is not None:
        require_scope(request, scope)
    platform = sql.first(Platform, "id = %s", [owner_id])
    if platform is None:  # pragma: no cover - platforms are never deleted (PROTECT)
        raise PlatformKeyRequired("the platform this key belongs to no longer exists")
    return platform


# ---------------------------------------------------------------------------- earnings


class EarningsEventDoc(Schema):
    """One earnings event as a platform sends it (amounts in minor units)."""

    model_config = ConfigDict(extra="forbid", title="EarningsEvent")

    event_id: str = Field(
        max_length=120, description="your id for the event; each id is recorded once"
    )
    worker_ref: str = Field(max_length=120, description="your own reference for the worker")
    occurred_at: datetime = Field(description="ISO 8601 with a time zone, e.g. 2026-03-02T14:30Z")
    gross: int = Field(ge=0, description="earnings before tips and bonus, minor units")
    tips: int = Field(0, ge=0, description="minor units")
    bonus: int = Field(0, ge=0, description="minor units")
    currency: str = Field(description="ISO 4217, the currency of the policy in effect")
    jobs: int = Field(1, ge=0, description="jobs (gigs, cleanings, rides) the event covers")
    description: str = Field("", max_length=500)
    worker_status: str = Field(
        "", max_length=40, description="the worker's tier, for tiered policies (e.g. platinum)"
    )


_EVENTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_BATCH,
    "items": EarningsEventDoc.model_json_schema(),
    "description": (
        f"1 to {MAX_BATCH:,} events, applied whole or refused whole. The events are"
        " validated by the gateway (not by the schema), so every bad event is reported in"
        " one 422 `invalid_batch` error with a detail per problem."
    ),
}


class EarningsIn(Schema):
    # Deliberately untyped items: the service names every bad event in one error, where
    # schema validation would stop at the first and answer in another shape.
    events: Annotated[list[Any], WithJsonSchema(_EVENTS_SCHEMA)]


class EventOut(Schema):
    index: int
    event_id: str
    status: str = Field(description="created, or exists (the id was recorded before)")
    contribution: int = Field(description="what the platform contributes for it, minor units")
    currency: str
    held: str = Field(
        description="credited (to the worker's buckets), suspense (worker not linked yet),"
        " released (from suspense, since linked) or none (no contribution)"
    )
    policy_version: int
    journal_id: int | None = Field(description="the ledger journal; null when nothing moved")


class CountsOut(Schema):
    events: int
    created: int
    exists: int


class EarningsOut(Schema):
    counts: CountsOut
    totals: dict[str, int] = Field(
        description="contributions of every event in this request, per currency"
    )
    created_totals: dict[str, int] = Field(
        description="contributions of the events created by this request, per currency"
    )
    events: list[EventOut]


def earnings_body(result: BatchResult) -> dict[str, Any]:
    """The response for a recorded batch, built as plain dicts: at 10,000 events a schema
    object per event would cost more than the JSON encoding."""
    totals: dict[str, int] = defaultdict(int)
    created: dict[str, int] = defaultdict(int)
    events = []
    made = 0
    for r in result.results:
        totals[r.currency] += r.contribution
        if r.status == "created":
            made += 1
            created[r.currency] += r.contribution
        events.append(
            {
                "index": r.index,
                "event_id": r.event_id,
                "status": r.status,
                "contribution": r.contribution,
                "currency": r.currency,
                "held": r.held,
                "policy_version": r.policy_version,
                "journal_id": r.journal_id,
            }
        )
    return {
        "counts": {"events": len(events), "created": made, "exists": len(events) - made},
        "totals": dict(sorted(totals.items())),
        "created_totals": dict(sorted(created.items())),
        "events": events,
    }


@platform_router.post(
    "/earnings",
    response=with_errors({200: EarningsOut}, 400, 401, 403, 409, 413, 422),
    summary="Record a batch of earnings events (scope earnings:write)",
    description=(
        "Each event is idempotent by its `event_id`: sending it again with the same content"
        " answers `exists` with the contribution it produced; with other content the whole"
        " batch is refused (422 `invalid_batch`, detail code `idempotency_conflict`). Always"
        " 200 on success: each event's `status` says whether it was created."
    ),
)
def post_earnings(request: HttpRequest, payload: EarningsIn) -> HttpResponse:
    platform = platform_of(request, "earnings:write")
    result = services.record_events(platform, payload.events)
    return HttpResponse(json.dumps(earnings_body(result)), content_type="application/json")


# ---------------------------------------------------------------------------- corrections


class CorrectionIn(Schema):
    """A correction of one recorded earnings event: the figures it should have carried."""

    model_config = ConfigDict(extra="forbid", title="EventCorrectionIn")

    correction_id: StrictStr = Field(
        min_length=1, max_length=120, description="your id for the correction; recorded once"
    )
    corrects: StrictStr = Field(
        min_length=1, max_length=120, description="the event_id of the event it corrects"
    )
    worker_ref: StrictStr = Field(
        min_length=1, max_length=120, description="the event's worker reference (unchanged)"
    )
    currency: StrictStr = Field(description="the event's currency (unchanged)")
    gross: StrictInt = Field(ge=0, le=MAX_AMOUNT, description="corrected gross, minor units")
    tips: StrictInt = Field(0, ge=0, le=MAX_AMOUNT, description="corrected tips, minor units")
    bonus: StrictInt = Field(0, ge=0, le=MAX_AMOUNT, description="corrected bonus, minor units")
    jobs: StrictInt = Field(1, ge=0, le=MAX_AMOUNT, description="corrected job count")
    reason: StrictStr = Field(
        min_length=1, max_length=500, description="why, in words the worker will read"
    )


class CorrectionOut(Schema):
    correction_id: str
    corrects: str = Field(description="the event_id it corrects")
    status: str = Field(description="created, or exists (the id was recorded before)")
    sequence: int = Field(description="1 for the event's first correction, 2 for the next, …")
    worker_ref: str
    currency: str
    gross: int
    tips: int
    bonus: int
    jobs: int
    reason: str
    policy_version: int = Field(description="the event's own policy version, applied again")
    contribution: int = Field(description="the event's contribution as corrected, minor units")
    previous_contribution: int = Field(
        description="what was booked for the event before this correction, minor units"
    )
    difference: int = Field(description="contribution - previous_contribution")
    booked: int = Field(description="what moved: the difference, or downward minus what came back")
    shortfall: int = Field(
        description="what the worker's account no longer held and so was not taken back;"
        " the platform bears it"
    )
    held: str = Field(
        description="credited (worker's buckets), suspense, released (from suspense, since"
        " linked) or none (nothing moved)"
    )
    journal_id: int | None = Field(description="the ledger journal; null when nothing moved")
    clearing_batch_id: int | None = Field(
        description="the clearing batch it is billed in; null until a batch takes it"
    )
    recorded_at: datetime


def correction_out(correction: EventCorrection, status: str = "exists") -> dict[str, Any]:
    event = correction.event
    return {
        "correction_id": correction.correction_id,
        "corrects": event.event_id,
        "status": status,
        "sequence": correction.sequence,
        "worker_ref": event.worker_ref,
        "currency": event.currency,
        "gross": correction.gross,
        "tips": correction.tips,
        "bonus": correction.bonus,
        "jobs": correction.jobs,
        "reason": correction.reason,
        "policy_version": event.policy.version,
        "contribution": correction.contribution,
        "previous_contribution": correction.previous_contribution,
        "difference": correction.difference,
        "booked": correction.booked,
        "shortfall": correction.shortfall,
        "held": correction.status,
        "journal_id": correction.journal_id,
        "clearing_batch_id": correction.clearing_batch_id,
        "recorded_at": correction.recorded_at,
    }


@platform_router.post(
    "/corrections",
    response=with_errors({200: CorrectionOut}, 400, 401, 403, 404, 409, 413, 422),
    summary="Correct a recorded earnings event (scope earnings:write)",
    description=(
        "Names the event by `corrects` and gives the figures it should have carried. The"
        " contribution is recomputed under the event's policy version and period context,"
        " and the difference is booked: added to the worker's buckets, or taken back from"
        " them as far as they hold it. Always 200, as for earnings: `status` is `created`, or"
        " `exists` for the same `correction_id` with the same content; with other content 409"
        " `idempotency_conflict`."
    ),
)
def post_correction(request: HttpRequest, payload: CorrectionIn) -> Status[dict[str, Any]]:
    platform = platform_of(request, "earnings:write")
    result = services.correct_event(platform, payload.model_dump())
    return Status(200, correction_out(result.correction, result.status))


@platform_router.get(
    "/corrections",
    response=with_errors({200: list[CorrectionOut]}, 401, 403),
    summary="Your corrections, newest first (scope earnings:write)",
)
def list_corrections(request: HttpRequest) -> list[dict[str, Any]]:
    platform = platform_of(request, "earnings:write")
    return [correction_out(c) for c in services.corrections_of(platform)]


# ---------------------------------------------------------------------------- links


class LinkIn(Schema):
    worker_ref: str = Field(max_length=120, description="your own reference for the worker")
    email: str | None = Field(
        None, max_length=254, description="invite the Keel worker with this email"
    )
    link_code: str | None = Field(
        None, max_length=40, description="or link now with the one-time code the worker gave you"
    )
    worker_status: str = Field("", max_length=40, description="the worker's tier, if any")


class AmountOut(Schema):
    currency: str
    amount: int


class LinkOut(Schema):
    worker_ref: str
    status: str = Field(description="invited, active, declined or ended")
    worker_status: str
    worker_name: str | None = Field(description="the worker's name, only while linked")
    invited_at: datetime
    linked_at: datetime | None
    ended_at: datetime | None


class LinkedOut(LinkOut):
    released: list[AmountOut] = Field(
        description="what was held in suspense for this reference and is now the worker's"
    )


def link_out(link: WorkerLink) -> dict[str, Any]:
    # A platform learns who the worker is only once they consented: never an email, and
    # the name only while the link is active.
    active = link.status == LinkStatus.ACTIVE and link.worker is not None
    return {
        "worker_ref": link.worker_ref,
        "status": link.status,
        "worker_status": link.worker_status,
        "worker_name": link.worker.name if active and link.worker is not None else None,
        "invited_at": link.invited_at,
        "linked_at": link.linked_at,
        "ended_at": link.ended_at,
    }


@platform_router.post(
    "/links",
    response=with_errors({201: LinkedOut}, 400, 401, 403, 409, 422),
    summary="Invite a worker by email, or link one with their link code (scope workers:link)",
    description=(
        "Send `email` to invite (the worker accepts in Keel) or `link_code` to link at once"
        " (the code is the worker's consent). Linking releases whatever was held in suspense"
        " for the reference into the worker's benefits account."
    ),
)
def create_link(request: HttpRequest, payload: LinkIn) -> Status[dict[str, Any]]:
    platform = platform_of(request, "workers:link")
    has_email, has_code = bool(payload.email), bool(payload.link_code)
    if has_email == has_code:
        raise GatewayError(
            "send either email (to invite the worker) or link_code (to link now), not both",
            field="link_code" if has_code else "email",
            code="invalid",
        )
    if payload.email:
        link = services.invite(
            platform, payload.worker_ref, payload.email, worker_status=payload.worker_status
        )
        return Status(201, {**link_out(link), "released": []})
    with transaction.atomic():
        last = Journal.objects.order_by("-id").values_list("id", flat=True).first() or 0
        link = services.link_with_code(
            platform,
            payload.worker_ref,
            payload.link_code or "",
            worker_status=payload.worker_status,
        )
        released = _released_since(platform, link.worker_ref, last)
    return Status(201, {**link_out(link), "released": released})


def _released_since(platform: Platform, worker_ref: str, journal_id: int) -> list[dict[str, Any]]:
    """What the link just released: the reference's events moved out of suspense by
    journals posted after `journal_id`."""
    totals: dict[str, int] = defaultdict(int)
    for currency, amount in EarningsEvent.objects.filter(
        platform=platform,
        worker_ref=worker_ref,
        status=EventStatus.RELEASED,
        released_journal_id__gt=journal_id,
    ).values_list("currency", "contribution"):
        totals[currency] += amount
    return [{"currency": c, "amount": a} for c, a in sorted(totals.items())]


@platform_router.get(
    "/links",
    response=with_errors({200: list[LinkOut]}, 401, 403),
    summary="Your worker references and their links (scope workers:link)",
)
def list_links(request: HttpRequest) -> list[dict[str, Any]]:
    platform = platform_of(request, "workers:link")
    return [link_out(link) for link in services.platform_links(platform)]


@platform_router.delete(
    "/links/{path:worker_ref}",
    response=with_errors({200: LinkOut}, 401, 403, 404, 422),
    summary="End a link (scope workers:link); the worker keeps the account and its history",
)
def end_link(request: HttpRequest, worker_ref: str) -> dict[str, Any]:
    platform = platform_of(request, "workers:link")
    link = services.platform_link(platform, worker_ref)
    return link_out(services.end_link(link))


class SuspenseOut(Schema):
    worker_ref: str
    currency: str
    amount: int = Field(description="contributions held for the reference, minor units")
    link_status: str | None = Field(
        description="invited, declined or ended; null when the reference was never linked"
    )


@platform_router.get(
    "/suspense",
    response=with_errors({200: list[SuspenseOut]}, 401, 403),
    summary="Contributions held for references nobody has linked yet (scope workers:link)",
)
def list_suspense(request: HttpRequest) -> list[dict[str, Any]]:
    platform = platform_of(request, "workers:link")
    rows = services.suspense_by_ref(platform)
    statuses = dict(
        WorkerLink.objects.filter(
            platform=platform, worker_ref__in={str(r["worker_ref"]) for r in rows}
        ).values_list("worker_ref", "status")
    )
    return [
        {
            "worker_ref": row["worker_ref"],
            "currency": row["currency"],
            "amount": row["total"],
            "link_status": statuses.get(str(row["worker_ref"])),
        }
        for row in rows
    ]


# ---------------------------------------------------------------------------- bundles


class BundleTermsIn(Schema):
    start: date = Field(description="the first day of week 1")
    weeks: int = Field(description="how many weeks the commitment runs")
    min_tasks_per_week: int = 0
    rate_per_task: int = Field(0, description="minor units per task")
    min_weekly_earnings: int = Field(0, description="weekly earnings guarantee, minor units")


class BundleIn(Schema):
    worker_ref: str = Field(description="a reference the worker has linked")
    reference: str = Field(description="your id for the offer; idempotent")
    title: str
    terms: BundleTermsIn


class BundleWeekOut(Schema):
    week: int
    start: date
    end: date
    tasks: int
    earnings: int
    committed_tasks: int
    committed_earnings: int
    task_shortfall: int | None
    earnings_shortfall: int | None
    topped_up: int
    owed: int = Field(description="guarantee shortfall not settled yet, minor units")
    status: str = Field(description="met, short, in progress or upcoming")


class BundleOut(Schema):
    reference: str
    worker_ref: str
    title: str
    status: str = Field(description="offered, accepted, declined or withdrawn")
    currency: str
    starts_on: date
    ends_on: date
    committed_weekly: int = Field(description="committed income per week, minor units")
    weeks: list[BundleWeekOut] = Field(description="delivery week by week once accepted")


def bundle_out(bundle: Any) -> dict[str, Any]:
    view = services.bundle_view(bundle)
    return {
        "reference": bundle.reference,
        "worker_ref": bundle.link.worker_ref,
        "title": bundle.title,
        "status": bundle.status,
        "currency": view.terms.currency,
        "starts_on": bundle.starts_on,
        "ends_on": bundle.ends_on,
        "committed_weekly": view.committed_weekly,
        "weeks": [
            {
                "week": w.number,
                "start": w.start,
                "end": w.end,
                "tasks": w.tasks,
                "earnings": w.earnings,
                "committed_tasks": w.committed_tasks,
                "committed_earnings": w.committed_earnings,
                "task_shortfall": w.task_shortfall,
                "earnings_shortfall": w.earnings_shortfall,
                "topped_up": w.topped_up,
                "owed": w.owed,
                "status": w.status,
            }
            for w in view.weeks
        ],
    }


@platform_router.post(
    "/bundles",
    response=with_errors({201: BundleOut}, 400, 401, 403, 404, 409, 422),
    summary="Offer a linked worker a steady micro-contract bundle (scope bundles:write)",
    description=(
        "The worker accepts or declines it in Keel. The same `reference` with the same"
        " content returns the first offer; with other content it is refused (409)."
    ),
)
def offer_bundle(request: HttpRequest, payload: BundleIn) -> Status[dict[str, Any]]:
    platform = platform_of(request, "bundles:write")
    bundle = services.offer_bundle(
        platform,
        payload.worker_ref,
        payload.reference,
        payload.title,
        {**payload.terms.model_dump(), "start": payload.terms.start.isoformat()},
    )
    return Status(201, bundle_out(bundle))


@platform_router.get(
    "/bundles",
    response=with_errors({200: list[BundleOut]}, 401, 403),
    summary="Your bundles with their weekly delivery and shortfalls (scope bundles:write)",
)
def list_bundles(request: HttpRequest) -> list[dict[str, Any]]:
    platform = platform_of(request, "bundles:write")
    return [bundle_out(b) for b in services.bundles_for_platform(platform)]


# ---------------------------------------------------------------------------- policy


class PolicyOut(Schema):
    version: int
    name: str
    effective_from: date
    published_at: datetime
    in_effect: bool = Field(description="whether this version applies to events today")
    terms: dict[str, Any] = Field(description="the policy terms (see docs/api.md)")
    description: list[str] = Field(description="the terms in plain sentences")


@platform_router.get(
    "/policy",
    response=with_errors({200: list[PolicyOut]}, 401, 403),
    summary="Your published contribution policy, every version, newest first",
)
def list_policy(request: HttpRequest) -> list[dict[str, Any]]:
    platform = platform_of(request, None)
    versions = services.policy_versions(platform)
    today = services.policy_in_effect(versions, timezone.localdate())
    return [
        {
            "version": v.version,
            "name": v.name,
            "effective_from": v.effective_from,
            "published_at": v.published_at,
            "in_effect": today is not None and v.pk == today.pk,
            "terms": v.terms,
            "description": services.terms_of(v).describe(),
        }
        for v in versions
    ]


# ---------------------------------------------------------------------------- clearing


class BatchOut(Schema):
    id: int
    period_start: date
    period_end: date
    currency: str
    event_count: int
    owed: int = Field(description="contributions closed into the batch, minor units")
    paid: int = Field(description="payments recorded against it, minor units")
    difference: int = Field(description="paid minus owed: negative is short, positive excess")
    status: str = Field(description="open, settled, short or excess")
    closed_at: datetime


class SettlementOut(Schema):
    reference: str
    amount: int
    received_on: date
    recorded_at: datetime
    # Set when the operator withdrew a payment recorded in error: it no longer counts.
    withdrawn_at: datetime | None = None
    withdrawal_reason: str = ""


class BatchDetailOut(BatchOut):
    settlements: list[SettlementOut]


def batch_out(state: services.BatchState) -> dict[str, Any]:
    batch = state.batch
    return {
        "id": batch.pk,
        "period_start": batch.period_start,
        "period_end": batch.period_end,
        "currency": batch.currency,
        "event_count": batch.event_count,
        "owed": batch.owed,
        "paid": state.paid,
        "difference": state.difference,
        "status": state.status,
        "closed_at": batch.closed_at,
    }


@platform_router.get(
    "/clearing",
    response=with_errors({200: list[BatchOut]}, 401, 403),
    summary="Your clearing batches, newest first (scope clearing:read)",
)
def list_clearing(request: HttpRequest) -> list[dict[str, Any]]:
    platform = platform_of(request, "clearing:read")
    return [batch_out(state) for state in services.batches_of(platform)]


def _batch(request: HttpRequest, id: int) -> ClearingBatch:
    return services.platform_batch(platform_of(request, "clearing:read"), id)


@platform_router.get(
    "/clearing/{int:id}",
    response=with_errors({200: BatchDetailOut}, 401, 403, 404, 422),
    summary="One clearing batch with its payments (scope clearing:read)",
)
def get_clearing(request: HttpRequest, id: int) -> dict[str, Any]:
    batch = _batch(request, id)
    return {
        **batch_out(services.batch_state(batch)),
        "settlements": [
            {
                "reference": s.reference,
                "amount": s.amount,
                "received_on": s.received_on,
                "recorded_at": s.recorded_at,
                "withdrawn_at": s.withdrawn_at,
                "withdrawal_reason": s.withdrawal_reason,
            }
            for s in batch.settlements.order_by("recorded_at", "id")
        ],
    }


@platform_router.get(
    "/clearing/{int:id}/statement.csv",
    response=with_errors({200: str}, 401, 403, 404, 422),
    summary="The batch's statement: every event and contribution, as CSV (scope clearing:read)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "CSV, amounts in minor units",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def clearing_statement(request: HttpRequest, id: int) -> HttpResponse:
    batch = _batch(request, id)
    name = (
        f"{batch.platform.slug}-clearing-{batch.period_start.isoformat()}"
        f"-{batch.period_end.isoformat()}-{batch.currency}-{batch.pk}.csv"
    )
    response = HttpResponse(services.statement_csv(batch), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# ---------------------------------------------------------------------------- worker


class BucketOut(Schema):
    bucket: str
    label: str
    currency: str
    balance: int = Field(description="minor units")
    allocation_bps: int = Field(description="share of new contributions, basis points")


class BenefitsOut(Schema):
    allocation: dict[str, int] = Field(description="bucket -> basis points, summing to 10000")
    buckets: list[BucketOut]


@worker_router.get(
    "",
    response=with_errors({200: BenefitsOut}, 401, 403),
    summary="Your portable benefits account: buckets and allocation (scope ledger:read)",
)
def get_benefits(request: HttpRequest) -> dict[str, Any]:
    who = require_scope(request, "ledger:read")
    if who.owner != ("worker", who.user.pk):
        raise WorkerOnly("this endpoint is for workers: a platform's key cannot read it")
    return {
        "allocation": services.allocation_of(who.user),
        "buckets": [
            {
                "bucket": b.bucket,
                "label": b.label,
                "currency": b.currency,
                "balance": b.balance,
                "allocation_bps": b.allocation_bps,
            }
            for b in services.bucket_balances(who.user)
        ],
    }


# ---------------------------------------------------------------------------- errors


def _install_error_handlers() -> None:
    # Imported here, after `router` exists: keel.api.api imports this module to mount it.
    from keel.api.api import api

    def on_gateway_error(request: HttpRequest, exc: GatewayError) -> HttpResponse:
        return error_response(
            api, request, exc.status, exc.code, exc.message, exc.field, exc.details
        )

    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return error_response(
            api,
            request,
            413,
            "too_large",
            f"the request body is too large; send at most {MAX_BATCH:,} events per batch",
        )

    api.exception_handler(GatewayError)(on_gateway_error)
    api.exception_handler(RequestDataTooBig)(on_too_big)


_install_error_handlers()
