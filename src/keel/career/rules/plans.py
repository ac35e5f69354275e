"""90-day plans: a recurring-revenue target, one expansion channel, key actions, check-ins.

Progress is never typed in: the service passes what the books say (the MRR series and the
income by channel) and these rules compare it with the plan. Amounts are ``int`` minor units.

The calendar
    A plan covers exactly 90 days: day 0 is ``starts_on`` and day 89, ``ends_on``, is its
    last day; day 90 (``review_on``) is the day of the end-of-plan review and the first day
    of the next plan. Week ``w`` (1..13) holds days ``7(w-1)`` to ``7w - 1``; week 13 is the
    six days 84..89. Key actions must fall due within the plan and check-ins must be made
    within it, one per week.

On track
    The plan's line runs straight from ``start_mrr`` on day 0 to ``target_mrr`` on day 90::

        expected(d) = start_mrr + (target_mrr - start_mrr) * d / 90

    where ``d`` is the number of days from ``starts_on`` to the day of the progress (0
    before the plan starts, 90 from the review day on). MRR now is the latest point of the
    series on or before that day and not before ``starts_on`` (``start_mrr`` when there is
    none). The plan is on track when MRR now >= expected(d), compared exactly; when it is
    not, ``behind_by`` is the whole minor units MRR is short of the line (rounded up, so it
    is never 0 while behind). ``expected_mrr`` is expected(d) rounded half up for display.

    The share of the way is ``(mrr_now - start_mrr) / (target_mrr - start_mrr)`` in basis
    points, rounded half away from zero; it is negative when MRR fell and above 10000 when
    the target is passed. A plan that only holds MRR (target = start) is 10000 once MRR is
    at or above the target and 0 below it.

The next plan's target
    The trend is the least-squares line through the plan's MRR points (day offset, MRR) from
    day 0 to day 90, with ``start_mrr`` standing for day 0 when the series has no point that
    day. Its slope times 90 days, rounded half up, is the trend growth. The draft's target is
    the actual end MRR plus that growth, but never below the end MRR: a falling trend drafts
    a plan that holds MRR rather than one that plans a decline. Least squares rather than
    end minus start so that one unusual month at either end does not set the next target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from fractions import Fraction

from keel.money import MoneyError, format_amount, get_currency

__all__ = [
    "FIRST_START",
    "LAST_START",
    "PLAN_DAYS",
    "PLAN_WEEKS",
    "CheckIn",
    "KeyAction",
    "NextPlanDraft",
    "Plan",
    "PlanError",
    "PlanProgress",
    "PlanReview",
    "TargetResult",
    "add_action",
    "add_check_in",
    "add_expansion_channel",
    "check_starts_on",
    "one_expansion_channel",
    "progress",
    "review",
    "trend_growth",
    "week_of",
]

PLAN_DAYS = 90
PLAN_WEEKS = 13
BPS_WHOLE = 10_000
# The days a plan may start on: a plan, its review and the plans it could overlap lie
# PLAN_DAYS either side of its start, which must stay within the calendar.
FIRST_START = date(1900, 1, 1)
LAST_START = date(2999, 12, 31)


# --------------------------------------------------------------------------- errors


class PlanError(ValueError):
    """Bad input to a plan rule. ``field`` names the offending input (``"expansion_channel"``,
    ``"actions[1].due_on"``); ``code`` is a stable machine-readable reason."""

    def __init__(self, message: str, *, field: str, code: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


def _int(value: object, field: str, *, minimum: int = 0) -> int:
    # bool is an int and a float may hide a fraction of a cent: both are refused, not coerced.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanError(
            f"{field} must be a whole number (int), not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    if value < minimum:
        words = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        raise PlanError(f"{field} {words}, not {value}", field=field, code="out_of_range")
    return value


def _date(value: object, field: str) -> date:
    # A datetime is a date subclass; accepting one would drop its time and zone silently.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise PlanError(
            f"{field} must be a calendar date, not {type(value).__name__}",
            field=field,
            code="invalid_type",
        )
    return value


def check_starts_on(value: object) -> date:
    """A plan's first day, refused outside ``FIRST_START`` to ``LAST_START``."""
    day = _date(value, "starts_on")
    if not FIRST_START <= day <= LAST_START:
        raise PlanError(
            f"starts_on must be from {FIRST_START.isoformat()} to {LAST_START.isoformat()},"
            f" not {day.isoformat()}",
            field="starts_on",
            code="out_of_range",
        )
    return day


def _text(value: object, field: str, *, max_length: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PlanError(f"{field} must not be empty", field=field, code="required")
    if len(value) > max_length:
        raise PlanError(
            f"{field} must be at most {max_length} characters, not {len(value)}",
            field=field,
            code="too_long",
        )
    return value.strip()


def _round_half_up(value: Fraction) -> int:
    """Half away from zero, the way people check a figure by hand."""
    whole, rest = divmod(abs(value.numerator), value.denominator)
    if 2 * rest >= value.denominator:
        whole += 1
    return whole if value >= 0 else -whole


def _ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)


def _bps(part: int, whole: int) -> int:
    return _round_half_up(Fraction(part * BPS_WHOLE, whole)) if whole else 0


def _percent(bps: int) -> str:
    whole, hundredths = divmod(abs(bps), 100)
    text = f"{whole}.{hundredths:02d}".rstrip("0").rstrip(".")
    return f"{'-' if bps < 0 else ''}{text}%"


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class KeyAction:
    """Something the worker means to do by ``due_on``; ``done_on`` once it is done."""

    title: str
    due_on: date
    done_on: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", _text(self.title, "title"))
        _date(self.due_on, "due_on")
        if self.done_on is not None:
            _date(self.done_on, "done_on")


@dataclass(frozen=True, slots=True)
class CheckIn:
    """The weekly check-in for plan week ``week`` (1..13), made on ``on``."""

    week: int
    on: date
    note: str = ""

    def __post_init__(self) -> None:
        _int(self.week, "week", minimum=1)
        _date(self.on, "on")
        if not isinstance(self.note, str):
            raise PlanError("note must be text", field="note", code="invalid_type")


@dataclass(frozen=True, slots=True)
class Plan:
    """A 90-day plan (module docstring).

    ``start_mrr`` is the MRR on ``starts_on`` from the books. ``expansion_channel`` is None
    only while the plan is being drafted; ``expansion_target`` is optional income to earn
    from that channel over the 90 days.
    """

    starts_on: date
    currency: str
    start_mrr: int
    target_mrr: int
    expansion_channel: str | None = None
    expansion_target: int | None = None
    actions: tuple[KeyAction, ...] = ()
    check_ins: tuple[CheckIn, ...] = ()

    def __post_init__(self) -> None:
        check_starts_on(self.starts_on)
        try:
            code = get_currency(self.currency).code
        except (MoneyError, TypeError) as exc:
            raise PlanError(str(exc), field="currency", code="invalid_currency") from exc
        object.__setattr__(self, "currency", code)
        _int(self.start_mrr, "start_mrr")
        _int(self.target_mrr, "target_mrr")
        if self.target_mrr < self.start_mrr:
            raise PlanError(
                f"target_mrr must be at least the starting MRR "
                f"{self._money(self.start_mrr)}, not {self._money(self.target_mrr)}",
                field="target_mrr",
                code="below_start",
            )
        if self.expansion_channel is not None:
            channel = _text(self.expansion_channel, "expansion_channel", max_length=100)
            object.__setattr__(self, "expansion_channel", channel)
        if self.expansion_target is not None:
            _int(self.expansion_target, "expansion_target")
            if self.expansion_channel is None:
                raise PlanError(
                    "expansion_target needs an expansion channel to count it",
                    field="expansion_channel",
                    code="required",
                )
        object.__setattr__(self, "actions", tuple(self.actions))
        object.__setattr__(self, "check_ins", tuple(self.check_ins))
        for i, action in enumerate(self.actions):
            if not isinstance(action, KeyAction):
                raise PlanError(
                    f"actions[{i}] must be a KeyAction", field=f"actions[{i}]", code="invalid_type"
                )
            self._require_within(action.due_on, f"actions[{i}].due_on")
        weeks: set[int] = set()
        for i, check_in in enumerate(self.check_ins):
            if not isinstance(check_in, CheckIn):
                raise PlanError(
                    f"check_ins[{i}] must be a CheckIn",
                    field=f"check_ins[{i}]",
                    code="invalid_type",
                )
            self._require_within(check_in.on, f"check_ins[{i}].on")
            if check_in.week != self.week_of(check_in.on):
                raise PlanError(
                    f"check_ins[{i}].week must be {self.week_of(check_in.on)} for a check-in "
                    f"on {check_in.on.isoformat()}, not {check_in.week}",
                    field=f"check_ins[{i}].week",
                    code="wrong_week",
                )
            if check_in.week in weeks:
                raise PlanError(
                    f"week {check_in.week} already has a check-in",
                    field=f"check_ins[{i}].week",
                    code="duplicate",
                )
            weeks.add(check_in.week)

    def _money(self, amount: int) -> str:
        return format_amount(amount, self.currency, symbol=True)

    def _require_within(self, day: date, field: str) -> None:
        _date(day, field)
        if not self.starts_on <= day <= self.ends_on:
            raise PlanError(
                f"{field} must fall within the plan, {self.starts_on.isoformat()} to "
                f"{self.ends_on.isoformat()}, not {day.isoformat()}",
                field=field,
                code="outside_plan",
            )

    @property
    def ends_on(self) -> date:
        """The plan's last day (day 89)."""
        return self.starts_on + timedelta(days=PLAN_DAYS - 1)

    @property
    def review_on(self) -> date:
        """Day 90: the end-of-plan review, and the first day of the next plan."""
        return self.starts_on + timedelta(days=PLAN_DAYS)

    def week_of(self, day: date) -> int:
        """The plan week (1..13) ``day`` falls in; a ``PlanError`` outside the plan."""
        self._require_within(day, "day")
        return (day - self.starts_on).days // 7 + 1


def week_of(plan: Plan, day: date) -> int:
    return plan.week_of(day)


def one_expansion_channel(channels: Sequence[str]) -> str:
    """The one expansion channel chosen on a form that lets people pick several: exactly
    one is accepted, a second is refused naming it."""
    chosen: list[str] = []
    for i, channel in enumerate(channels):
        name = _text(channel, f"expansion_channel[{i}]", max_length=100)
        if name.casefold() not in (c.casefold() for c in chosen):
            chosen.append(name)
    if not chosen:
        raise PlanError(
            "expansion_channel is required: choose the one channel this plan expands into",
            field="expansion_channel",
            code="required",
        )
    if len(chosen) > 1:
        raise PlanError(
            f"expansion_channel: a plan has exactly one expansion channel, so {chosen[1]!r} "
            f"cannot be added to {chosen[0]!r}",
            field="expansion_channel",
            code="one_channel",
        )
    return chosen[0]


def add_expansion_channel(plan: Plan, channel: str) -> Plan:
    """Set the plan's expansion channel; a second, different one is refused. Adding the same
    channel again changes nothing."""
    name = _text(channel, "expansion_channel", max_length=100)
    current = plan.expansion_channel
    if current is None:
        return replace(plan, expansion_channel=name)
    if current.casefold() == name.casefold():
        return plan
    raise PlanError(
        f"expansion_channel: a plan has exactly one expansion channel and this one already "
        f"expands into {current!r}; replace it rather than adding {name!r}",
        field="expansion_channel",
        code="one_channel",
    )


def add_action(plan: Plan, title: str, due_on: date) -> Plan:
    """Add a key action; its date must fall within the plan."""
    plan._require_within(_date(due_on, "due_on"), "due_on")
    return replace(plan, actions=(*plan.actions, KeyAction(title, due_on)))


def add_check_in(plan: Plan, on: date, note: str = "") -> Plan:
    """Add the check-in for the week holding ``on``; outside the plan, or a second one in
    the same week, is refused (the service edits the week's check-in instead)."""
    plan._require_within(_date(on, "on"), "on")
    week = plan.week_of(on)
    if any(c.week == week for c in plan.check_ins):
        raise PlanError(f"week {week} already has a check-in", field="on", code="duplicate")
    return replace(plan, check_ins=(*plan.check_ins, CheckIn(week, on, note)))


# --------------------------------------------------------------------------- progress


def _series(plan: Plan, mrr_series: Mapping[date, int], until: date) -> list[tuple[date, int]]:
    points = []
    for day, mrr in mrr_series.items():
        _date(day, "mrr_series")
        _int(mrr, f"mrr_series[{day.isoformat()}]")
        if plan.starts_on <= day <= until:
            points.append((day, mrr))
    points.sort()
    return points


def _mrr_on(plan: Plan, mrr_series: Mapping[date, int], day: date) -> int:
    points = _series(plan, mrr_series, day)
    return points[-1][1] if points else plan.start_mrr


def _elapsed(plan: Plan, day: date) -> int:
    return min(max((day - plan.starts_on).days, 0), PLAN_DAYS)


def _incomes(plan: Plan, income_by_channel: Mapping[str, int]) -> tuple[int, int]:
    expansion = other = 0
    channel = (plan.expansion_channel or "").casefold()
    for name, amount in income_by_channel.items():
        _int(amount, f"income_by_channel[{name!r}]")
        if channel and isinstance(name, str) and name.strip().casefold() == channel:
            expansion += amount
        else:
            other += amount
    return expansion, other


@dataclass(frozen=True, slots=True)
class PlanProgress:
    """A plan measured against the books on ``as_of`` (module docstring for the rules)."""

    as_of: date
    currency: str
    day: int
    week: int | None
    start_mrr: int
    target_mrr: int
    mrr_now: int
    expected_mrr: int
    progress_bps: int
    on_track: bool
    behind_by: int
    expansion_channel: str | None
    expansion_income: int
    other_income: int
    actions_done: tuple[KeyAction, ...]
    actions_overdue: tuple[KeyAction, ...]
    actions_open: tuple[KeyAction, ...]

    @property
    def expansion_share_bps(self) -> int:
        """The expansion channel's share of all income in the plan so far."""
        return _bps(self.expansion_income, self.expansion_income + self.other_income)

    def summary(self) -> list[str]:
        """What is on track and what is behind, in sentences for the plan page."""

        def money(amount: int) -> str:
            return format_amount(amount, self.currency, symbol=True)

        lines = []
        line = (
            f"MRR is {money(self.mrr_now)}, {_percent(self.progress_bps)} of the way from "
            f"{money(self.start_mrr)} to the target of {money(self.target_mrr)}"
        )
        if self.on_track:
            line += f"; on track (the plan's line is at {money(self.expected_mrr)} on day "
            line += f"{self.day})."
        else:
            line += (
                f"; behind by {money(self.behind_by)} (the plan's line is at "
                f"{money(self.expected_mrr)} on day {self.day})."
            )
        lines.append(line)
        if self.expansion_channel is None:
            lines.append("No expansion channel is chosen yet.")
        else:
            lines.append(
                f"{self.expansion_channel} brought {money(self.expansion_income)}, "
                f"{_percent(self.expansion_share_bps)} of income so far; other channels "
                f"{money(self.other_income)}."
            )
        total = len(self.actions_done) + len(self.actions_overdue) + len(self.actions_open)
        if total:
            line = f"{len(self.actions_done)} of {total} key actions done"
            if self.actions_overdue:
                titles = ", ".join(a.title for a in self.actions_overdue)
                line += f"; overdue: {titles}"
            lines.append(line + ".")
        return lines


def progress(
    plan: Plan, mrr_series: Mapping[date, int], income_by_channel: Mapping[str, int], today: date
) -> PlanProgress:
    """The plan's progress on ``today`` from the books.

    ``mrr_series`` is MRR by date (any points; those inside the plan up to today are used);
    ``income_by_channel`` is income received from ``starts_on`` to today by channel name
    (the expansion channel is matched ignoring case).
    """
    _date(today, "today")
    as_of = min(today, plan.review_on)
    d = _elapsed(plan, as_of)
    start, target = plan.start_mrr, plan.target_mrr
    now = _mrr_on(plan, mrr_series, as_of)
    expected = start + Fraction((target - start) * d, PLAN_DAYS)
    on_track = now >= expected
    if target == start:
        share = BPS_WHOLE if now >= target else 0
    else:
        share = _bps(now - start, target - start)
    expansion, other = _incomes(plan, income_by_channel)
    done = tuple(a for a in plan.actions if a.done_on is not None)
    overdue = tuple(a for a in plan.actions if a.done_on is None and a.due_on < today)
    open_ = tuple(a for a in plan.actions if a.done_on is None and a.due_on >= today)
    return PlanProgress(
        as_of=as_of,
        currency=plan.currency,
        day=d,
        week=plan.week_of(today) if plan.starts_on <= today <= plan.ends_on else None,
        start_mrr=start,
        target_mrr=target,
        mrr_now=now,
        expected_mrr=_round_half_up(expected),
        progress_bps=share,
        on_track=on_track,
        behind_by=0 if on_track else _ceil(expected - now),
        expansion_channel=plan.expansion_channel,
        expansion_income=expansion,
        other_income=other,
        actions_done=done,
        actions_overdue=overdue,
        actions_open=open_,
    )


# --------------------------------------------------------------------------- review


def trend_growth(plan: Plan, mrr_series: Mapping[date, int]) -> int:
    """MRR growth over 90 days on the least-squares line (module docstring)."""
    points = [
        ((day - plan.starts_on).days, mrr) for day, mrr in _series(plan, mrr_series, plan.review_on)
    ]
    if not points or points[0][0] != 0:
        points.insert(0, (0, plan.start_mrr))
    n = len(points)
    sx = sum(x for x, _ in points)
    sy = sum(y for _, y in points)
    sxx = sum(x * x for x, _ in points)
    sxy = sum(x * y for x, y in points)
    spread = n * sxx - sx * sx
    if spread == 0:  # every point on day 0: no time has passed, so no trend yet
        return 0
    return _round_half_up(Fraction((n * sxy - sx * sy) * PLAN_DAYS, spread))


@dataclass(frozen=True, slots=True)
class TargetResult:
    """One target of the plan against what happened. ``difference = actual - planned``."""

    name: str
    planned: int
    actual: int
    met: bool

    @property
    def difference(self) -> int:
        return self.actual - self.planned


@dataclass(frozen=True, slots=True)
class NextPlanDraft:
    """The targets the review proposes for the next plan; the worker edits and accepts them.
    The expansion channel is left to choose: one new channel each quarter."""

    starts_on: date
    start_mrr: int
    target_mrr: int
    trend_growth: int

    @property
    def review_on(self) -> date:
        """The day the next plan's target is due (its day 90)."""
        return self.starts_on + timedelta(days=PLAN_DAYS)


@dataclass(frozen=True, slots=True)
class PlanReview:
    currency: str
    results: tuple[TargetResult, ...]
    next_plan: NextPlanDraft
    words: tuple[str, ...]


def review(
    plan: Plan, mrr_series: Mapping[date, int], income_by_channel: Mapping[str, int]
) -> PlanReview:
    """The end-of-plan review: plan against actual for each target, and the next plan's
    draft from the trend (module docstring). ``income_by_channel`` covers the whole plan."""

    def money(amount: int) -> str:
        return format_amount(amount, plan.currency, symbol=True)

    end = _mrr_on(plan, mrr_series, plan.review_on)
    results = [TargetResult("MRR", plan.target_mrr, end, end >= plan.target_mrr)]
    words = [
        f"MRR ended at {money(end)} against a target of {money(plan.target_mrr)}: "
        + (
            "target met."
            if end >= plan.target_mrr
            else f"{money(plan.target_mrr - end)} short of the target."
        )
    ]
    expansion, other = _incomes(plan, income_by_channel)
    if plan.expansion_channel is not None and plan.expansion_target is not None:
        met = expansion >= plan.expansion_target
        results.append(
            TargetResult(
                f"Income from {plan.expansion_channel}", plan.expansion_target, expansion, met
            )
        )
        words.append(
            f"{plan.expansion_channel} brought {money(expansion)} against a target of "
            f"{money(plan.expansion_target)}"
            + (
                "."
                if met
                else f", {money(plan.expansion_target - expansion)} short; other channels "
                f"brought {money(other)}."
            )
        )
    if plan.actions:
        done = sum(1 for a in plan.actions if a.done_on is not None)
        results.append(
            TargetResult("Key actions done", len(plan.actions), done, done == len(plan.actions))
        )
        words.append(f"{done} of {len(plan.actions)} key actions were done.")

    growth = trend_growth(plan, mrr_series)
    target = end + max(growth, 0)
    draft = NextPlanDraft(plan.review_on, end, target, growth)
    if growth > 0:
        words.append(
            f"Next plan: the trend added {money(growth)} of MRR over 90 days, so the draft "
            f"aims for {money(target)} by {draft.review_on.isoformat()}, starting from "
            f"{money(end)}."
        )
    else:
        fell = f"fell by {money(-growth)}" if growth else "did not grow"
        words.append(
            f"Next plan: MRR {fell} on the trend over these 90 days, so the draft holds it at "
            f"{money(end)} rather than planning a decline."
        )
    return PlanReview(plan.currency, tuple(results), draft, tuple(words))
