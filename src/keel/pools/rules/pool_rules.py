"""The rules of a peer pool, as data.

A pool's rules are one of four kinds, told apart by ``kind``:

* ``sick_leave``: a Broodfonds-style fund. Each member picks a tier (the monthly gift they
  receive when sick), deposits a share of it every month into their *own* reserve inside
  the pool, and when a member is sick every other member gives them a share of that gift
  from their own reserve (``gifts``). ``broodfonds_default`` is the Dutch template.
* ``emergency``: members pay a fixed monthly contribution into a common fund that makes
  one-off grants, up to a limit per member per calendar year (``emergency``).
* ``health_sharing``: members pay a monthly share; a member with a medical need pays an
  unshared amount first and the pool shares the rest up to a cap per need and per year
  (``sharing``).
* ``rotating_savings``: everyone pays the same contribution each month and one member
  takes the whole pot, in an order drawn by lottery or agreed, once per cycle (``rotating``).

Every kind carries the same governance: the currency, the quorum and majority of votes, how
members are admitted, whether outsiders may see the pool, and its size.

Amounts are integers in minor units of the pool's currency; rates are basis points
(450 bps = 4.5%). A rules object in hand is always valid: constructing one runs every check.
``parse_rules`` is the door for untrusted input (forms, the API, JSON from the database) and
turns every problem into ``RulesError`` with the path of the offending field, in the same
words a member reads in a form (``tiers[3]: must be greater than tiers[2]``).

The other rule modules of the pools domain refuse bad input with ``RulesError`` too, so the
services catch one exception type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Self, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from keel.money import exponent, format_amount, is_currency, percent_of_bps

__all__ = [
    "CUT_RULE",
    "KINDS",
    "MAX_AMOUNT",
    "ClaimRules",
    "EmergencyRules",
    "HealthSharingRules",
    "MemberId",
    "PoolRules",
    "RotatingSavingsRules",
    "RulesError",
    "SickLeaveRules",
    "amend_rules",
    "broodfonds_default",
    "describe",
    "diff_rules",
    "format_percent",
    "kind_name",
    "parse_rules",
    "rules_to_json",
]

BPS_WHOLE = 10_000
# The ledger's largest leg (keel.ledger.rules.MAX_LEG_AMOUNT): a rule amount above it could
# never be paid, and the database's 64-bit integers could not even store it.
MAX_AMOUNT = 10**15

# How the rule modules name a member: the service's membership id.
MemberId: TypeAlias = int | str

KINDS = ("sick_leave", "emergency", "health_sharing", "rotating_savings")

_KIND_NAMES = {
    "sick_leave": "a sick-leave fund",
    "emergency": "an emergency fund",
    "health_sharing": "a health cost-sharing pool",
    "rotating_savings": "a rotating savings pool",
}


# --------------------------------------------------------------------------- errors


class RulesError(ValueError):
    """Bad pool rules, or bad input to a pool rule.

    ``errors`` lists every problem found as ``(field, message)``; the field is a path such
    as ``tiers[3]`` or ``claims[0].member`` (``""`` for the input as a whole), so forms and
    the API can attach each message to its input.
    """

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        super().__init__("; ".join(f"{f}: {m}" if f else m for f, m in self.errors))

    @classmethod
    def one(cls, field: str, message: str) -> RulesError:
        return cls([(field, message)])

    @property
    def field(self) -> str:
        """The first offending field, for callers that show one error at a time."""
        return self.errors[0][0] if self.errors else ""


# --------------------------------------------------------------------------- field types


def _between(low: int, high: int | None) -> AfterValidator:
    if high is not None:
        message = f"must be between {low} and {high}"
    elif low == 0:
        message = "must not be negative"
    else:
        message = f"must be at least {low}"

    def check(value: int) -> int:
        if value < low or (high is not None and value > high):
            raise PydanticCustomError("out_of_range", message)
        return value

    return AfterValidator(check)


def _check_currency(code: str) -> str:
    if not is_currency(code):
        raise PydanticCustomError(
            "invalid_currency",
            "must be an ISO 4217 code such as EUR, not {code}",
            {"code": repr(code)},
        )
    return code


def _amount(low: int) -> AfterValidator:
    below = "must be more than zero (in minor units)" if low else "must not be negative"

    def check(value: int) -> int:
        if value < low:
            raise PydanticCustomError("out_of_range", below)
        if value > MAX_AMOUNT:
            raise PydanticCustomError(
                "out_of_range", f"must be at most {MAX_AMOUNT:,} (in minor units)"
            )
        return value

    return AfterValidator(check)


Currency = Annotated[StrictStr, AfterValidator(_check_currency)]
Bps = Annotated[StrictInt, _between(1, BPS_WHOLE)]
# Amounts that a pool pays or asks for: a zero would be a rule that does nothing.
Amount = Annotated[StrictInt, _amount(1)]
Fee = Annotated[StrictInt, _amount(0)]
Headcount = Annotated[StrictInt, _between(2, 10_000)]
Approvals = Annotated[StrictInt, _between(1, 1_000)]
GraceMonths = Annotated[StrictInt, _between(0, 12)]


# --------------------------------------------------------------------------- the kinds


class _Rules(BaseModel):
    """Governance every kind of pool has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: Currency
    # Share of the eligible members who must cast a ballot (abstaining counts) for a vote
    # to count at all.
    quorum_bps: Bps = 5_000
    # Share of the yes and no votes that must be yes; 5001 is "more than half", so a tie
    # fails, and 10000 is unanimity.
    majority_bps: Bps = 5_001
    admission_by_vote: StrictBool = True
    # A public pool's page and ledger are open to outsiders, who see members by pseudonym.
    public: StrictBool = False
    min_members: Headcount = 2
    max_members: Headcount = 50

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        issues = self._issues()
        if issues:
            # One error carrying every issue, so parse_rules can report each with its own
            # path instead of pydantic's single message for the whole model.
            summary = "; ".join(f"{f}: {m}" for f, m in issues)
            raise PydanticCustomError(
                "rules_incoherent", "{summary}", {"summary": summary, "issues": issues}
            )
        return self

    def _issues(self) -> list[tuple[str, str]]:
        issues: list[tuple[str, str]] = []
        if self.max_members < self.min_members:
            issues.append(("max_members", f"must be at least min_members ({self.min_members})"))
        return issues

    def _approvals_issue(self, approvals_required: int) -> list[tuple[str, str]]:
        if approvals_required >= self.min_members:
            return [
                (
                    "approvals_required",
                    f"must be less than min_members ({self.min_members}): "
                    "the claimant cannot approve their own claim",
                )
            ]
        return []


class SickLeaveRules(_Rules):
    """A Broodfonds-style sick-leave fund.

    ``tiers`` are the monthly gifts a member can choose, lowest first. A member's monthly
    deposit is ``deposit_rate_bps`` of their tier's gift and goes into their own reserve,
    which is capped at ``reserve_cap_deposits`` deposits (the surplus is refunded once a
    year). Gifts start after ``waiting_months`` and last at most ``max_gift_months``; when
    the reserves cannot pay every gift in full, ``cut`` says how all of them are cut alike.

    ``approvals_required`` defaults to 3: with the 20-member minimum, three members other
    than the claimant is more than one friend vouching, yet quick to gather in a fund where
    members know each other.
    """

    kind: Literal["sick_leave"] = "sick_leave"
    tiers: tuple[Amount, ...]
    deposit_rate_bps: Bps = 450
    reserve_cap_deposits: Annotated[StrictInt, _between(1, 1_200)] = 36
    waiting_months: Annotated[StrictInt, _between(0, 24)] = 1
    max_gift_months: Annotated[StrictInt, _between(1, 120)] = 24
    approvals_required: Approvals = 3
    grace_months: GraceMonths = 1
    entry_fee: Fee = 0
    # The only cut rule so far; a field all the same, so the rule is on record in every
    # rules version and a future rule would be a visible, voted change.
    cut: Literal["equal_whole_percent"] = "equal_whole_percent"
    min_members: Headcount = 20
    max_members: Headcount = 50

    def _issues(self) -> list[tuple[str, str]]:
        issues = super()._issues()
        if not self.tiers:
            issues.append(("tiers", "must list at least one tier"))
        for i in range(1, len(self.tiers)):
            if self.tiers[i] <= self.tiers[i - 1]:
                issues.append((f"tiers[{i}]", f"must be greater than tiers[{i - 1}]"))
        for i, gift in enumerate(self.tiers):
            if percent_of_bps(gift, self.deposit_rate_bps) == 0:
                issues.append(
                    (
                        f"tiers[{i}]",
                        f"its deposit ({format_percent(self.deposit_rate_bps)} of it) rounds "
                        "to nothing",
                    )
                )
        return issues + self._approvals_issue(self.approvals_required)


class EmergencyRules(_Rules):
    """An emergency fund: a fixed monthly contribution into a common fund that makes
    one-off grants, up to ``grant_limit_per_year`` per member per calendar year; a grant
    above ``vote_above`` needs a vote of the members besides the approvals."""

    kind: Literal["emergency"] = "emergency"
    contribution: Amount
    grant_limit_per_year: Amount
    vote_above: Fee
    approvals_required: Approvals = 2
    grace_months: GraceMonths = 1
    min_members: Headcount = 3

    def _issues(self) -> list[tuple[str, str]]:
        issues = super()._issues()
        if self.vote_above > self.grant_limit_per_year:
            # Otherwise no grant could ever need a vote and the rule would only mislead.
            issues.append(("vote_above", "must not exceed grant_limit_per_year"))
        return issues + self._approvals_issue(self.approvals_required)


class HealthSharingRules(_Rules):
    """A health cost-sharing pool: a monthly share per member; for each need the member
    pays ``unshared_amount`` first and the pool shares the rest, at most ``cap_per_need``
    per need and ``cap_per_year`` per member per calendar year."""

    kind: Literal["health_sharing"] = "health_sharing"
    monthly_share: Amount
    unshared_amount: Fee
    cap_per_need: Amount
    cap_per_year: Amount
    approvals_required: Approvals = 2
    grace_months: GraceMonths = 1
    min_members: Headcount = 3

    def _issues(self) -> list[tuple[str, str]]:
        issues = super()._issues()
        if self.cap_per_need > self.cap_per_year:
            issues.append(("cap_per_need", "must not exceed cap_per_year"))
        return issues + self._approvals_issue(self.approvals_required)


class RotatingSavingsRules(_Rules):
    """A rotating savings pool: one round a month, everyone pays ``contribution``, one
    member takes the pot; the order is drawn by lottery or agreed, and nobody takes the pot
    twice in a cycle."""

    kind: Literal["rotating_savings"] = "rotating_savings"
    contribution: Amount
    order: Literal["lottery", "agreement"] = "lottery"


PoolRules: TypeAlias = Annotated[
    SickLeaveRules | EmergencyRules | HealthSharingRules | RotatingSavingsRules,
    Field(discriminator="kind"),
]
ClaimRules: TypeAlias = SickLeaveRules | EmergencyRules | HealthSharingRules

_ADAPTER: TypeAdapter[PoolRules] = TypeAdapter(PoolRules)


# --------------------------------------------------------------------------- parsing


def parse_rules(data: Mapping[str, Any]) -> PoolRules:
    """Validate untrusted rules; every problem is reported at once in ``RulesError``."""
    if not isinstance(data, Mapping):
        raise RulesError.one("", f"rules must be an object, not {type(data).__name__}")
    try:
        return _ADAPTER.validate_python(dict(data))
    except ValidationError as exc:
        raise RulesError(_errors_of(exc)) from None


def amend_rules(rules: PoolRules, changes: Mapping[str, Any]) -> PoolRules:
    """``rules`` with ``changes`` applied, validated like any untrusted input: what a rule
    change proposal becomes (pydantic's ``model_copy(update=...)`` would skip validation)."""
    if not isinstance(changes, Mapping):
        raise RulesError.one("", f"changes must be an object, not {type(changes).__name__}")
    return parse_rules({**rules_to_json(rules), **changes})


def rules_to_json(rules: PoolRules) -> dict[str, Any]:
    """JSON-able, ``kind`` first; ``parse_rules(rules_to_json(r)) == r``."""
    dumped = rules.model_dump(mode="json")
    return {"kind": dumped.pop("kind"), **dumped}


def _errors_of(exc: ValidationError) -> list[tuple[str, str]]:
    kinds = ", ".join(KINDS)
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        kind, loc, ctx = err["type"], err["loc"], err.get("ctx") or {}
        if kind == "union_tag_not_found":
            out.append(("kind", f"is required: one of {kinds}"))
            continue
        if kind == "union_tag_invalid":
            out.append(("kind", f"must be one of {kinds}, not {ctx.get('tag')!r}"))
            continue
        # With a discriminated union the first step of the path is the kind itself.
        if loc and loc[0] in KINDS:
            loc = loc[1:]
        if kind == "rules_incoherent":
            out.extend(ctx["issues"])
            continue
        out.append((_path(loc), _message(err["type"], err["msg"], err.get("input"))))
    return out


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for step in loc:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def _message(kind: str, msg: str, value: object) -> str:
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a rule of this kind of pool"
    if kind in ("int_type", "int_parsing"):
        return f"must be a whole number, not {value!r}"
    if kind == "bool_type":
        return f"must be true or false, not {value!r}"
    if kind == "string_type":
        return f"must be text, not {value!r}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list, not {type(value).__name__}"
    return msg.replace("Input should be", "must be")


# --------------------------------------------------------------------------- template


def broodfonds_default(currency: str = "EUR") -> SickLeaveRules:
    """The Broodfonds template: 8 tiers of €750 to €2,500 a month in €250 steps, 4.5%
    deposits (€33.75 to €112.50), reserves capped at 36 deposits, a one-month wait, gifts
    for at most 24 months, 20 to 50 members.

    In another currency the same numbers are used as whole units of it (750 to 2,500).
    """
    if not is_currency(currency):
        raise RulesError.one("currency", f"must be an ISO 4217 code such as EUR, not {currency!r}")
    unit = 10 ** exponent(currency)
    return SickLeaveRules(
        currency=currency, tiers=tuple(whole * unit for whole in range(750, 2_501, 250))
    )


# --------------------------------------------------------------------------- words


def format_percent(bps: int) -> str:
    """Basis points for people: 450 -> "4.5%", 5001 -> "50.01%", 10000 -> "100%"."""
    whole, hundredths = divmod(bps, 100)
    if not hundredths:
        return f"{whole}%"
    return f"{whole}.{hundredths:02d}".rstrip("0") + "%"


def kind_name(kind: str) -> str:
    return _KIND_NAMES.get(kind, kind)


def _money(amount: int, currency: str) -> str:
    return format_amount(amount, currency, symbol=True)


def _months(n: int) -> str:
    return f"{n} month" if n == 1 else f"{n} months"


def _members(n: int) -> str:
    return f"{n} member" if n == 1 else f"{n} members"


def _majority_words(bps: int) -> str:
    if bps == 5_001:
        return "more than half of the votes cast"
    if bps == BPS_WHOLE:
        return "every vote cast"
    return f"at least {format_percent(bps)} of the votes cast"


CUT_RULE = (
    "When the givers' reserves together cannot pay every gift of the month in full, every "
    "gift that month is cut alike to the same percentage of its full amount: the largest "
    "whole percent the reserves can pay (rounded down). Every member sees the cut."
)


def describe(rules: PoolRules) -> list[str]:
    """The rules in plain sentences, for a member deciding to join or reading a vote."""
    if isinstance(rules, SickLeaveRules):
        lines = _describe_sick_leave(rules)
    elif isinstance(rules, EmergencyRules):
        lines = _describe_emergency(rules)
    elif isinstance(rules, HealthSharingRules):
        lines = _describe_health_sharing(rules)
    else:
        lines = _describe_rotating(rules)
    return lines + _describe_governance(rules)


def _describe_sick_leave(r: SickLeaveRules) -> list[str]:
    cur = r.currency
    deposits = [percent_of_bps(gift, r.deposit_rate_bps) for gift in r.tiers]
    tiers = ", ".join(_money(gift, cur) for gift in r.tiers)
    count = "one tier" if len(r.tiers) == 1 else f"one of {len(r.tiers)} tiers"
    deposit_range = (
        _money(deposits[0], cur)
        if len(set(deposits)) == 1
        else f"{_money(deposits[0], cur)} to {_money(deposits[-1], cur)}"
    )
    return [
        f"This is a sick-leave fund in {cur}. Each member picks {count}: the monthly gift "
        f"they receive when sick ({tiers}).",
        f"Each month a member deposits {format_percent(r.deposit_rate_bps)} of their tier's "
        f"gift ({deposit_range}) into their own reserve, which stays theirs.",
        f"A reserve holds at most {r.reserve_cap_deposits} monthly deposits; anything above "
        "that is refunded once a year.",
        f"A sick member receives a gift for each calendar month that begins at least "
        f"{_months(r.waiting_months)} after the sickness began and before they recover, "
        f"for at most {_months(r.max_gift_months)} per sickness.",
        "Every other member gives a share of the sick member's gift from their own reserve, "
        "in proportion to their own tier; members who receive gifts that month do not give.",
        "A member whose reserve cannot cover their share gives what it holds; the shortfall "
        "is recorded.",
        CUT_RULE,
        f"A claim is paid once {_members(r.approvals_required)} other than the claimant "
        "approve it.",
        _grace_words(r.grace_months, "deposit"),
        "Gifts given for months that began on or after a sick member's recovery (a recovery "
        "reported late) are owed back: each giver gets back what they gave, in proportion to "
        "what they are still owed when it is paid in parts; the members may waive it by a "
        "vote.",
        "A member who leaves takes their whole reserve with them, less any gifts they still "
        "owe back, which go from it to the members who gave them first; what it cannot "
        "cover stays owed.",
        "There is no entry fee."
        if r.entry_fee == 0
        else f"New members pay an entry fee of {_money(r.entry_fee, cur)}.",
    ]


def _grace_words(grace_months: int, what: str) -> str:
    if grace_months == 0:
        return f"A {what} unpaid on its due date suspends the right to claim until it is paid."
    return (
        f"A {what} still unpaid {_months(grace_months)} after its due date suspends the "
        "right to claim until it is paid."
    )


def _describe_emergency(r: EmergencyRules) -> list[str]:
    cur = r.currency
    return [
        f"This is an emergency fund in {cur}. Each member pays {_money(r.contribution, cur)} "
        "a month into the common fund.",
        f"A member can receive one-off grants of up to {_money(r.grant_limit_per_year, cur)} "
        "in total per calendar year.",
        f"A grant needs the approval of {_members(r.approvals_required)} other than the one "
        f"who asks; a grant above {_money(r.vote_above, cur)} also needs a vote of the members.",
        _grace_words(r.grace_months, "contribution"),
    ]


def _describe_health_sharing(r: HealthSharingRules) -> list[str]:
    cur = r.currency
    first = (
        "The pool shares a medical need from the first cost."
        if r.unshared_amount == 0
        else f"For each medical need the member pays the first {_money(r.unshared_amount, cur)} "
        "themselves; the pool shares the rest."
    )
    return [
        f"This is a health cost-sharing pool in {cur}. Each member pays "
        f"{_money(r.monthly_share, cur)} a month.",
        first,
        f"The pool shares at most {_money(r.cap_per_need, cur)} per need and "
        f"{_money(r.cap_per_year, cur)} per member per calendar year; the shared part is "
        "paid from the common fund the monthly shares build, and stands for equal parts of "
        "the other members' shares.",
        f"A need is shared once {_members(r.approvals_required)} other than the member approve it.",
        _grace_words(r.grace_months, "monthly share"),
    ]


def _describe_rotating(r: RotatingSavingsRules) -> list[str]:
    cur = r.currency
    order = (
        "drawn by a lottery anyone can re-run from its seed"
        if r.order == "lottery"
        else "agreed by the members"
    )
    return [
        f"This is a rotating savings pool in {cur}. Each month every member pays "
        f"{_money(r.contribution, cur)} and one member takes the whole pot "
        "(the contribution times the number of members).",
        f"The order of the takers is {order}; nobody takes the pot twice in a cycle.",
    ]


def _describe_governance(r: PoolRules) -> list[str]:
    admission = (
        "New members are admitted by a vote."
        if r.admission_by_vote
        else "New members join without a vote."
    )
    visibility = (
        "The pool is public: outsiders can read its page and ledger, with members shown by "
        "pseudonym."
        if r.public
        else "The pool is private: only its members can see it."
    )
    return [
        f"The pool has {r.min_members} to {r.max_members} members.",
        admission,
        f"A vote counts when at least {format_percent(r.quorum_bps)} of the members cast a "
        f"ballot (abstaining counts), and passes with {_majority_words(r.majority_bps)}; "
        "each member has one vote.",
        "These rules change only through a vote.",
        visibility,
    ]


# --------------------------------------------------------------------------- diff


_Format = Callable[[Any, str], str]


def _fmt_money(value: Any, currency: str) -> str:
    return _money(value, currency)


_FIELDS: dict[str, tuple[str, _Format]] = {
    "kind": ("Kind of pool", lambda v, c: kind_name(v)),
    "currency": ("Currency", lambda v, c: str(v)),
    "tiers": ("Tiers", lambda v, c: ", ".join(_money(t, c) for t in v)),
    "deposit_rate_bps": ("Monthly deposit", lambda v, c: f"{format_percent(v)} of the tier"),
    "reserve_cap_deposits": ("Reserve cap", lambda v, c: f"{v} monthly deposits"),
    "waiting_months": ("Waiting period", lambda v, c: _months(v)),
    "max_gift_months": ("Longest run of gifts", lambda v, c: _months(v)),
    "approvals_required": ("Approvals a claim needs", lambda v, c: _members(v)),
    "grace_months": ("Grace for an unpaid deposit", lambda v, c: _months(v)),
    "entry_fee": ("Entry fee", _fmt_money),
    "cut": ("Cut rule", lambda v, c: "every gift cut alike, to a whole percent"),
    "contribution": ("Monthly contribution", _fmt_money),
    "grant_limit_per_year": ("Grant limit per member per year", _fmt_money),
    "vote_above": ("Grants that need a vote", lambda v, c: f"above {_money(v, c)}"),
    "monthly_share": ("Monthly share", _fmt_money),
    "unshared_amount": ("Paid by the member first", _fmt_money),
    "cap_per_need": ("Shared at most per need", _fmt_money),
    "cap_per_year": ("Shared at most per member per year", _fmt_money),
    "order": ("Order of takers", lambda v, c: "by lottery" if v == "lottery" else "by agreement"),
    "quorum_bps": ("Quorum", lambda v, c: f"{format_percent(v)} of the members"),
    "majority_bps": ("Majority", lambda v, c: _majority_words(v)),
    "admission_by_vote": ("Admission", lambda v, c: "by vote" if v else "without a vote"),
    "public": ("Visibility", lambda v, c: "public" if v else "private"),
    "min_members": ("Fewest members", lambda v, c: str(v)),
    "max_members": ("Most members", lambda v, c: str(v)),
}


def diff_rules(old: PoolRules, new: PoolRules) -> list[str]:
    """What adopting ``new`` in place of ``old`` changes, one line per rule, in the order of
    ``describe``; an empty list when nothing changes (a proposal the service should refuse).
    """
    before, after = rules_to_json(old), rules_to_json(new)
    lines: list[str] = []
    for name, (label, fmt) in _FIELDS.items():
        if name not in before and name not in after:
            continue
        if name not in before:
            lines.append(f"{label}: new rule, {fmt(after[name], new.currency)}.")
        elif name not in after:
            lines.append(f"{label}: no longer a rule (was {fmt(before[name], old.currency)}).")
        elif name == "tiers" and before[name] != after[name]:
            lines.append(_tiers_change(before[name], after[name], old.currency, new.currency))
        elif before[name] != after[name]:
            was, now = fmt(before[name], old.currency), fmt(after[name], new.currency)
            lines.append(f"{label}: {was} → {now}.")
    return lines


def _tiers_change(old: list[int], new: list[int], old_cur: str, new_cur: str) -> str:
    if old_cur != new_cur:
        was = ", ".join(_money(t, old_cur) for t in old)
        now = ", ".join(_money(t, new_cur) for t in new)
        return f"Tiers: {was} → {now}."
    added = [t for t in new if t not in old]
    removed = [t for t in old if t not in new]
    parts = []
    if added:
        parts.append("added " + ", ".join(_money(t, new_cur) for t in added))
    if removed:
        parts.append("removed " + ", ".join(_money(t, new_cur) for t in removed))
    return "Tiers: " + "; ".join(parts) + "."
