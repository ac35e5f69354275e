"""Every hot query is scoped to one tenant by its Citus distribution key (docs/scaling.md).

Keel grows past one machine on a distributed PostgreSQL such as Citus: each domain table is
distributed by the id of the tenant it belongs to (a worker, a pool, a platform, a peer
group; the ledger by the owner of its accounts), small shared tables are reference tables,
and a few operational tables stay on the coordinator. ``DISTRIBUTED``, ``DENORMALISED``,
``REFERENCE`` and ``LOCAL`` below are that map; docs/scaling.md explains each choice.

The hot paths (the worker dashboard, an income import, a platform's earnings batch, the
pool page, the pool's monthly gift run, the career MRR page) run under
``CaptureQueriesContext``; every SELECT, UPDATE and DELETE they send is parsed with sqlglot
and each distributed table it reads or changes must be *keyed*:

- its distribution column is compared with a constant (``= 5``, ``IN (5, 7)``, a list
  parameter), or equated with the distribution column of a keyed table (a colocated join);
- or it is joined (or ``IN``-subqueried) through a foreign key to a keyed row of the same
  tenant (a membership of a keyed pool's claim; the legs of a keyed worker's accounts). On
  Citus those foreign keys become composite, ``(key, id)``, so the join carries the key;
  a ``DENORMALISED`` table, whose key column the Citus migration adds, is reached only this
  way today.

A literal id alone (``WHERE claim_id IN (1)``) does not key a table: nothing in the
statement says which shard holds it. Queries that cross shards by design are listed in
``CROSSINGS`` with the reason, which docs/scaling.md repeats; each path must use exactly the
crossings it declares, so the list cannot go stale.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from sqlglot import exp
from sqlglot.tokens import TokenType

from keel.accounts.models import User
from keel.accounts.services import create_worker
from keel.career import offers
from keel.gateway import services as gateway
from keel.income import services as income
from keel.pools import services as pools
from keel.pools.models import Pool

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "docs" / "samples"
SCALING = ROOT / "docs" / "scaling.md"

WORKER, POOL, PLATFORM, PEER_GROUP, OWNER = "worker", "pool", "platform", "peer group", "owner"

# Distributed tables whose key column exists today: table -> (tenant, column).
DISTRIBUTED: dict[str, tuple[str, str]] = {
    # The ledger, by the owner of the account (worker, pool or platform id; Keel's own
    # accounts get owner 0 on Citus).
    "ledger_account": (OWNER, "owner_id"),
    # A worker's own records.
    "income_incomesettings": (WORKER, "worker_id"),
    "income_source": (WORKER, "worker_id"),
    "income_stream": (WORKER, "worker_id"),
    "income_importprofilerecord": (WORKER, "worker_id"),
    "income_importbatch": (WORKER, "worker_id"),
    "income_incomeitem": (WORKER, "worker_id"),
    "gateway_linkcode": (WORKER, "worker_id"),
    "gateway_benefitsaccount": (WORKER, "worker_id"),
    "gateway_withholdingconsent": (WORKER, "worker_id"),
    "gateway_benefituse": (WORKER, "worker_id"),
    "gateway_enrollment": (WORKER, "worker_id"),
    "career_contract": (WORKER, "worker_id"),
    "career_invoicecounter": (WORKER, "worker_id"),
    "career_offer": (WORKER, "worker_id"),
    "career_subscriptionevent": (WORKER, "worker_id"),
    "career_plan": (WORKER, "worker_id"),
    "career_upsell": (WORKER, "worker_id"),
    "career_portfolioitem": (WORKER, "worker_id"),
    "career_testimonialrequest": (WORKER, "worker_id"),
    "career_profile": (WORKER, "worker_id"),
    "career_skill": (WORKER, "worker_id"),
    "career_worklog": (WORKER, "worker_id"),
    "career_skillsharing": (WORKER, "worker_id"),
    "career_invoiceadjustment": (WORKER, "worker_id"),
    "otp_totp_totpdevice": (WORKER, "user_id"),
    "otp_static_staticdevice": (WORKER, "user_id"),
    # A pool's records.
    "pools_rulesversion": (POOL, "pool_id"),
    "pools_membership": (POOL, "pool_id"),
    "pools_claim": (POOL, "pool_id"),
    "pools_giftrun": (POOL, "pool_id"),
    "pools_vote": (POOL, "pool_id"),
    "pools_round": (POOL, "pool_id"),
    "pools_emailinvitation": (POOL, "pool_id"),
    # A platform's records.
    "gateway_workerlink": (PLATFORM, "platform_id"),
    "gateway_earningsevent": (PLATFORM, "platform_id"),
    "gateway_bundle": (PLATFORM, "platform_id"),
    "gateway_clearingbatch": (PLATFORM, "platform_id"),
    "gateway_eventcorrection": (PLATFORM, "platform_id"),
    # A peer group's records.
    "career_peergroup": (PEER_GROUP, "id"),
    "career_peermembership": (PEER_GROUP, "group_id"),
    "career_referral": (PEER_GROUP, "group_id"),
    "career_peeremailinvitation": (PEER_GROUP, "group_id"),
}

# Distributed tables whose key column the Citus migration adds (copied from the parent, as
# ledger legs already copy the journal's date): table -> (tenant, column to add).
DENORMALISED: dict[str, tuple[str, str]] = {
    "ledger_leg": (OWNER, "owner_id"),
    "ledger_journal": (OWNER, "owner_id"),
    "gateway_premiumcharge": (WORKER, "worker_id"),
    "gateway_settlement": (PLATFORM, "platform_id"),
    "career_milestone": (WORKER, "worker_id"),
    "career_milestoneevent": (WORKER, "worker_id"),
    "career_subscriber": (WORKER, "worker_id"),
    "career_retaineruse": (WORKER, "worker_id"),
    "career_offerpayment": (WORKER, "worker_id"),
    "career_planaction": (WORKER, "worker_id"),
    "career_checkin": (WORKER, "worker_id"),
    "career_planreview": (WORKER, "worker_id"),
    "career_testimonial": (WORKER, "worker_id"),
    "career_worklog_skills": (WORKER, "worker_id"),
    "otp_static_statictoken": (WORKER, "user_id"),
    "pools_deposit": (POOL, "pool_id"),
    "pools_claimdecision": (POOL, "pool_id"),
    "pools_claimreminder": (POOL, "pool_id"),
    "pools_claimreminder_sent_to": (POOL, "pool_id"),
    "pools_gift": (POOL, "pool_id"),
    "pools_giftshortfall": (POOL, "pool_id"),
    "pools_vote_eligible": (POOL, "pool_id"),
    "pools_ballot": (POOL, "pool_id"),
    "pools_refund": (POOL, "pool_id"),
    "pools_repayment": (POOL, "pool_id"),
}

# Small, shared, read everywhere: replicated to every node.
REFERENCE = frozenset(
    {
        "accounts_user",
        "accounts_user_groups",
        "accounts_user_user_permissions",
        "auth_group",
        "auth_group_permissions",
        "auth_permission",
        "django_content_type",
        "api_apikey",
        "gateway_platform",
        "gateway_platform_operators",
        "gateway_contributionpolicy",
        "gateway_plan",
        "income_exchangerate",
        "pools_pool",
    }
)

# Operational tables that stay on the coordinator and never join domain tables.
LOCAL = frozenset(
    {
        "django_session",
        "django_admin_log",
        "audit_auditevent",
        "accounts_signuprequest",
        "axes_accessattempt",
        "axes_accessattemptexpiration",
        "axes_accessfailurelog",
        "axes_accesslog",
    }
)


@dataclass(frozen=True, slots=True)
class Crossing:
    """A query that crosses shards by design: on ``table``, matching ``pattern``, in the
    hot ``paths`` named; ``name`` is the heading docs/scaling.md explains it under."""

    name: str
    table: str
    pattern: str
    paths: frozenset[str]
    vendor: str | None = None

    def matches(self, table: str, sql: str) -> bool:
        return table == self.table and re.search(self.pattern, sql) is not None


IMPORT, EARNINGS, DASHBOARD, POOL_PAGE, POOL_RUN, MRR = (
    "income import",
    "earnings batch",
    "worker dashboard",
    "pool page",
    "pool monthly run",
    "career MRR page",
)
POSTING = frozenset({IMPORT, EARNINGS, POOL_RUN})

CROSSINGS: tuple[Crossing, ...] = (
    Crossing(
        "journal idempotency keys",
        "ledger_journal",
        r"^SELECT idempotency_key, id, content_hash, status FROM ledger_journal WHERE",
        POSTING,
    ),
    Crossing(
        "ledger posting",
        "ledger_account",
        r"^SELECT id, code, kind, currency, floor, posted_debits, posted_credits,"
        r" pending_debits, pending_credits FROM ledger_account WHERE code",
        POSTING,
    ),
    Crossing(
        "ledger posting",
        "ledger_account",
        r"^(\d+ times: )?UPDATE ledger_account SET posted_debits = .* WHERE id = ",
        POSTING,
        vendor="sqlite",
    ),
    Crossing(
        "ledger posting",
        "ledger_account",
        r"^UPDATE ledger_account AS a SET posted_debits = v\.pd, .* WHERE a\.id = v\.id$",
        POSTING,
        vendor="postgresql",
    ),
    Crossing(
        "journal ids",
        "ledger_journal",
        r"^SELECT coalesce\(max\(id\), 0\) FROM ledger_journal$",
        POSTING,
        vendor="sqlite",
    ),
    Crossing(
        "journal ids",
        "ledger_journal",
        r"^SELECT nextval\('ledger_journal_id_seq'\) FROM generate_series\(1, \d+ - \(SELECT"
        r" count\(\*\) FROM ledger_journal WHERE idempotency_key = ANY\(",
        POSTING,
        vendor="postgresql",
    ),
    Crossing(
        "opening an account",
        "ledger_account",
        r'FROM "ledger_account" WHERE "ledger_account"."code" = ',
        frozenset({IMPORT}),
    ),
    Crossing(
        "a platform's batch opens its workers' accounts",
        "ledger_account",
        r"^SELECT code FROM ledger_account WHERE code",
        frozenset({EARNINGS}),
    ),
    Crossing(
        "income booked by journal range",
        "income_incomeitem",
        r'WHERE \("income_incomeitem"."journal_id" >= \d+ AND "income_incomeitem"."journal_id" <=',
        frozenset({IMPORT}),
    ),
)


# ---------------------------------------------------------------------------- the checker


_QUERIES = (exp.Select, exp.Update, exp.Delete)
_CHECKED = ("SELECT", "UPDATE", "DELETE", "WITH")
_TIMES = re.compile(r"^\d+ times: ")


def _scope(node: exp.Expression) -> exp.Expression | None:
    parent = node.parent
    while parent is not None and not isinstance(parent, _QUERIES):
        parent = parent.parent
    return parent


def _conjuncts(condition: exp.Expression | None) -> Iterator[exp.Expression]:
    """The ANDed parts of a condition: only those restrict every row (an OR does not)."""
    if condition is None:
        return
    if isinstance(condition, exp.Where):
        condition = condition.this
    if isinstance(condition, exp.Paren):
        yield from _conjuncts(condition.this)
    elif isinstance(condition, exp.And):
        yield from _conjuncts(condition.this)
        yield from _conjuncts(condition.expression)
    else:
        yield condition


def _constant(node: exp.Expression) -> bool:
    return not any(isinstance(n, exp.Column | exp.Select) for n in node.walk())


def _list_parameter(query: exp.Expression) -> bool:
    """``(SELECT value FROM json_each(%s))``: SQLite's one-parameter list (PostgreSQL's is
    ``= ANY(%s)``)."""
    if not isinstance(query, exp.Select) or query.args.get("where") is not None:
        return False
    source = query.args.get("from_")
    return (
        source is not None
        and isinstance(source.this, exp.Table)
        and not isinstance(source.this.this, exp.Identifier)
    )


def _inserted_into(table: exp.Table) -> bool:
    """Whether ``table`` is an INSERT's target (``INSERT INTO t (a, b)`` puts it in a
    Schema): INSERTs are not checked, here as when they are statements of their own (a
    data-modifying CTE is one inside a SELECT)."""
    parent = table.parent
    if isinstance(parent, exp.Schema):
        parent = parent.parent
    return isinstance(parent, exp.Insert) and parent.this in (table, table.parent)


ColumnRef = tuple[str, str]  # (table alias, column)


class Statement:
    """One parsed statement: its table references and what its conditions say about them."""

    def __init__(self, tree: exp.Expression, columns: Mapping[str, frozenset[str]]) -> None:
        self.columns = columns
        self.refs: dict[str, str] = {}  # alias -> table
        self.in_scope: dict[int, list[str]] = defaultdict(list)
        for table in tree.find_all(exp.Table):
            if isinstance(table.this, exp.Identifier) and not _inserted_into(table):
                self.refs[table.alias_or_name] = table.name
                self.in_scope[id(_scope(table))].append(table.alias_or_name)
        self.constants: set[ColumnRef] = set()
        self.links: dict[ColumnRef, set[ColumnRef]] = defaultdict(set)
        for query in tree.find_all(*_QUERIES):
            conditions = [query.args.get("where")]
            conditions += [join.args.get("on") for join in query.args.get("joins") or ()]
            for condition in conditions:
                for conjunct in _conjuncts(condition):
                    self._read(conjunct)

    def _resolve(self, column: exp.Column) -> ColumnRef | None:
        if column.table:
            return (column.table, column.name) if column.table in self.refs else None
        scope = _scope(column)
        while scope is not None:
            owners = [
                alias
                for alias in self.in_scope.get(id(scope), ())
                if column.name in self.columns.get(self.refs[alias], frozenset())
            ]
            if len(owners) == 1:
                return owners[0], column.name
            scope = _scope(scope)
        return None

    def _selected(self, query: exp.Expression) -> ColumnRef | None:
        if not isinstance(query, exp.Select) or len(query.expressions) != 1:
            return None
        selected = query.expressions[0]
        if isinstance(selected, exp.Alias):
            selected = selected.this
        return self._resolve(selected) if isinstance(selected, exp.Column) else None

    def _equals(self, column: ColumnRef | None, query: exp.Expression) -> None:
        if _list_parameter(query):
            self._constant(column)
        else:
            self._link(column, self._selected(query))

    def _read(self, conjunct: exp.Expression) -> None:
        if isinstance(conjunct, exp.EQ):
            left, right = conjunct.this, conjunct.expression
            if isinstance(right, exp.Column) and not isinstance(left, exp.Column):
                left, right = right, left
            if not isinstance(left, exp.Column):
                return
            column = self._resolve(left)
            inner = right.find(exp.Select) if isinstance(right, exp.Any) else None
            if isinstance(right, exp.Column):
                self._link(column, self._resolve(right))
            elif inner is not None:
                self._equals(column, inner)
            elif _constant(right):
                self._constant(column)
        elif isinstance(conjunct, exp.In) and isinstance(conjunct.this, exp.Column):
            column = self._resolve(conjunct.this)
            query = conjunct.args.get("query")
            if query is not None:
                self._equals(column, query.this if isinstance(query, exp.Subquery) else query)
            elif all(_constant(value) for value in conjunct.expressions):
                self._constant(column)

    def _constant(self, column: ColumnRef | None) -> None:
        if column is not None:
            self.constants.add(column)

    def _link(self, left: ColumnRef | None, right: ColumnRef | None) -> None:
        if left is not None and right is not None:
            self.links[left].add(right)
            self.links[right].add(left)

    def unkeyed(self, layout: Layout) -> set[str]:
        """The distributed tables of the statement that no condition scopes to one tenant."""
        keyed: set[str] = set()
        changed = True
        while changed:
            changed = False
            for alias, table in self.refs.items():
                if alias in keyed or table not in layout.tenants:
                    continue
                key = layout.keys.get(table)
                found = key is not None and (alias, key) in self.constants
                found = found or any(
                    other in keyed and layout.reaches(table, column, self.refs[other], via)
                    for (owner, column), linked in self.links.items()
                    if owner == alias
                    for other, via in linked
                )
                if found:
                    keyed.add(alias)
                    changed = True
        return {
            table
            for alias, table in self.refs.items()
            if alias not in keyed and table in layout.tenants
        }


def _compatible(one: str, other: str) -> bool:
    # An account's owner id is the worker's, pool's or platform's own id, so a ledger
    # owner's rows live on the same shard as that tenant's.
    tenants = {WORKER, POOL, PLATFORM}
    return (
        one == other or (one == OWNER and other in tenants) or (other == OWNER and one in tenants)
    )


class Layout:
    """The declared distribution, with the same-tenant foreign keys read from the models."""

    def __init__(
        self,
        distributed: Mapping[str, tuple[str, str]],
        denormalised: Mapping[str, tuple[str, str]],
        columns: Mapping[str, frozenset[str]],
        foreign_keys: Iterable[tuple[str, str, str, str]],
    ) -> None:
        self.keys = {table: column for table, (_, column) in distributed.items()}
        self.tenants = {table: tenant for table, (tenant, _) in distributed.items()}
        self.tenants.update({table: tenant for table, (tenant, _) in denormalised.items()})
        self.columns = columns
        self.same_tenant = {
            (table, column, target, target_column)
            for table, column, target, target_column in foreign_keys
            if table in self.tenants
            and target in self.tenants
            and _compatible(self.tenants[table], self.tenants[target])
        }

    def reaches(self, table: str, column: str, other: str, other_column: str) -> bool:
        """Whether ``table.column = other.other_column``, with ``other`` keyed, keeps
        ``table`` on the same tenant's shard."""
        if self.keys.get(table) == column and self.keys.get(other) == other_column:
            return _compatible(self.tenants[table], self.tenants[other])
        return (table, column, other, other_column) in self.same_tenant or (
            other,
            other_column,
            table,
            column,
        ) in self.same_tenant


def parse(sql: str, vendor: str) -> exp.Expression | None:
    """The statement to check, or None for what is not a SELECT, UPDATE or DELETE."""
    text = _TIMES.sub("", sql.strip())
    if text.split(None, 1)[0].upper() not in _CHECKED:
        return None
    if text != sql.strip() and vendor != "postgresql":
        # executemany is logged with its placeholders; SQLite's dialect reads them as `?`.
        text = text.replace("%s", "?")
    return sqlglot.parse_one(text, read="postgres" if vendor == "postgresql" else "sqlite")


def statements(sql: str, vendor: str) -> list[str]:
    """The statements of one execute, in order. On PostgreSQL one execute may carry several
    (the ledger sets its savepoint with its reads); each is checked on its own, so a SELECT
    after a SAVEPOINT is not skipped with it. Split on the tokenizer's semicolons, not the
    text's: a memo inlined by client-side binding may hold one."""
    dialect = "postgres" if vendor == "postgresql" else "sqlite"
    text = _TIMES.sub("", sql.strip())
    if text != sql.strip() or ";" not in text:
        return [sql]
    pieces, start = [], 0
    for token in sqlglot.tokenize(text, read=dialect):
        if token.token_type == TokenType.SEMICOLON:
            pieces.append(text[start : token.start])
            start = token.end + 1
    pieces.append(text[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


def model_columns() -> dict[str, frozenset[str]]:
    return {
        model._meta.db_table: frozenset(f.column for f in model._meta.concrete_fields)
        for model in apps.get_models(include_auto_created=True)
    }


def model_foreign_keys() -> Iterator[tuple[str, str, str, str]]:
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is not None:
                target = field.target_field  # type: ignore[attr-defined]
                yield (
                    model._meta.db_table,
                    field.column,
                    field.related_model._meta.db_table,
                    target.column,
                )


def layout() -> Layout:
    return Layout(DISTRIBUTED, DENORMALISED, model_columns(), model_foreign_keys())


@dataclass(frozen=True, slots=True)
class Finding:
    table: str
    sql: str


def findings(sqls: Iterable[str], plan: Layout, vendor: str) -> list[Finding]:
    columns = plan.columns
    out = []
    for sql in (statement for text in sqls for statement in statements(text, vendor)):
        tree = parse(sql, vendor)
        if tree is None:
            continue
        for table in sorted(Statement(tree, columns).unkeyed(plan)):
            out.append(Finding(table, sql))
    return out


# ---------------------------------------------------------------------------- checking the checker


def unkeyed(sql: str, vendor: str = "sqlite") -> set[str]:
    tree = parse(sql, vendor)
    assert tree is not None
    return Statement(tree, model_columns()).unkeyed(layout())


def test_a_constant_key_scopes_a_table(db: None) -> None:
    assert unkeyed('SELECT * FROM "income_source" WHERE "income_source"."worker_id" = 3') == set()
    assert unkeyed("SELECT * FROM income_source WHERE worker_id IN (3, 4)") == set()
    assert unkeyed("SELECT * FROM income_source WHERE name = 'x' AND worker_id = 3") == set()
    assert unkeyed("UPDATE pools_claim SET status = 'x' WHERE pool_id = 2 AND id = 9") == set()
    assert unkeyed("DELETE FROM gateway_workerlink WHERE platform_id = 1") == set()
    list_parameter = (
        "SELECT * FROM income_source WHERE worker_id IN (SELECT value FROM json_each('[1]'))"
    )
    assert unkeyed(list_parameter) == set()
    assert unkeyed("SELECT * FROM income_source WHERE worker_id = ANY(%s)", "postgresql") == set()


def test_a_query_without_its_key_is_found(db: None) -> None:
    assert unkeyed("SELECT * FROM income_source WHERE id = 3") == {"income_source"}
    assert unkeyed("SELECT * FROM income_source WHERE name = 'x'") == {"income_source"}
    # An OR branch does not restrict every row.
    assert unkeyed("SELECT * FROM income_source WHERE worker_id = 3 OR name = 'x'") == {
        "income_source"
    }
    assert unkeyed("UPDATE ledger_account SET floor = 0 WHERE id = %s", "postgresql") == {
        "ledger_account"
    }
    # A literal foreign key says nothing about the shard.
    assert unkeyed("SELECT * FROM pools_gift WHERE claim_id IN (1)") == {"pools_gift"}
    # Reference and local tables are never checked.
    assert unkeyed("SELECT * FROM accounts_user WHERE email = 'a@b.c'") == set()


def test_each_statement_of_one_execute_is_checked(db: None) -> None:
    # PostgreSQL gets several statements in one execute (the ledger's savepoint and reads);
    # the SELECT after the SAVEPOINT is checked, and the ';' inside a literal splits nothing.
    sql = (
        "SAVEPOINT s; SELECT * FROM income_source WHERE name = 'a;b';"
        " SELECT * FROM income_source WHERE worker_id = 3; RELEASE SAVEPOINT s"
    )
    found = findings([sql], layout(), "postgresql")
    assert found == [Finding("income_source", "SELECT * FROM income_source WHERE name = 'a;b'")]
    # An INSERT inside a CTE is not a read; a read beside it still is.
    cte = (
        "WITH run AS (INSERT INTO pools_giftrun (pool_id, month) VALUES (1, '2026-01-01')"
        " RETURNING id) SELECT run.id, c.id FROM run, pools_claim c WHERE c.status = 'x'"
    )
    assert unkeyed(cte, "postgresql") == {"pools_claim"}


def test_keys_travel_through_colocated_joins_and_same_tenant_foreign_keys(db: None) -> None:
    legs = (
        'SELECT * FROM "ledger_leg" INNER JOIN "ledger_account"'
        ' ON ("ledger_leg"."account_id" = "ledger_account"."id")'
        ' WHERE ("ledger_account"."owner_id" = 1 AND "ledger_account"."owner_type" = \'worker\')'
    )
    assert unkeyed(legs) == set()
    journals = (
        "SELECT * FROM ledger_journal WHERE id IN (SELECT U0.journal_id FROM ledger_leg U0"
        " INNER JOIN ledger_account U1 ON (U0.account_id = U1.id) WHERE U1.owner_id = 1)"
    )
    assert unkeyed(journals) == set()
    members = (
        "SELECT * FROM pools_claim INNER JOIN pools_membership"
        " ON (pools_claim.membership_id = pools_membership.id) WHERE pools_claim.pool_id = 1"
    )
    assert unkeyed(members) == set()
    colocated = (
        "SELECT * FROM income_incomeitem i JOIN income_source s ON s.worker_id = i.worker_id"
        " WHERE s.worker_id = 4"
    )
    assert unkeyed(colocated) == set()
    # A join on a column that is neither the key nor a same-tenant foreign key does not
    # carry the key.
    unrelated = (
        "SELECT * FROM income_incomeitem i JOIN income_source s ON s.id = i.hours"
        " WHERE s.worker_id = 4"
    )
    assert unkeyed(unrelated) == {"income_incomeitem"}
    # A pool's claim and a platform's link are different tenants.
    crossing = (
        "SELECT * FROM pools_claim c JOIN gateway_workerlink l ON l.id = c.membership_id"
        " WHERE l.platform_id = 1"
    )
    assert unkeyed(crossing) == {"pools_claim"}


# ---------------------------------------------------------------------------- checking the map


def test_every_table_is_placed_once_and_each_key_is_where_the_map_says(db: None) -> None:
    columns = model_columns()
    placed = [*DISTRIBUTED, *DENORMALISED, *REFERENCE, *LOCAL]
    assert len(placed) == len(set(placed))
    assert set(columns) - set(placed) == set()
    for table, (_, column) in DISTRIBUTED.items():
        assert column in columns[table], table
    for table, (_, column) in DENORMALISED.items():
        # A table whose key column now exists belongs in DISTRIBUTED.
        assert column not in columns[table], table
    plan = layout()
    for table in DENORMALISED:
        assert any(fk[0] == table or fk[2] == table for fk in plan.same_tenant), table


def test_docs_scaling_places_every_table_and_explains_every_crossing(db: None) -> None:
    text = SCALING.read_text(encoding="utf-8")
    for table in sorted(model_columns()):
        assert f"`{table}`" in text, table
    for crossing in CROSSINGS:
        assert f"**{crossing.name}**" in text, crossing.name


# ---------------------------------------------------------------------------- hot paths

PASSWORD = "harbour-lantern-42"


def _worker(email: str, currency: str = "USD") -> User:
    return create_worker(
        email, name=email.split("@")[0].title(), password=PASSWORD, currency=currency
    )


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _import(worker: User) -> None:
    source = income.source_for_import(worker, "upwork")
    with (SAMPLES / "upwork.csv").open("rb") as handle:
        summary = income.import_file(worker, handle, fmt="upwork", source=source)
    assert summary.imported == 7


def _offer(worker: User) -> None:
    offer = offers.create_offer(
        worker,
        name="Studio membership",
        kind="membership",
        price=1_500,
        currency="USD",
        interval="month",
    )
    subscriber = offers.add_subscriber(offer, name="Lee", start_on=date(2026, 1, 5))
    offers.record_payment(offer, amount=1_500, on=date(2026, 1, 5), subscriber=subscriber)


def _fund() -> tuple[Pool, User]:
    """A sick-leave fund of three with this month's deposits paid and an approved claim."""
    from keel.pools.tests.conftest import EUR_1000, EUR_1500, small_fund_rules, this_month

    ana, ben, cy = (_worker(f"{n}@example.org", "EUR") for n in ("ana", "ben", "cy"))
    # Members since the first of the month, so a sickness from then is covered.
    pool = pools.create_pool(
        ana, name="Bakers Fund", rules=small_fund_rules(), tier_gift=EUR_1500, today=this_month()
    )
    pools.apply(pool, ben, tier_gift=EUR_1000, today=this_month())
    pools.apply(pool, cy, tier_gift=EUR_1000, today=this_month())
    for user in (ana, ben, cy):
        pools.pay_own_deposit(pool, user, this_month())
    claim = pools.report_own_claim(pool, cy, start_date=this_month())
    pools.decide_claim(claim, ana, "approve")
    return pool, ana


def path_income_import() -> Callable[[], object]:
    worker = _worker("ana@example.org")
    return lambda: _import(worker)


def path_earnings_batch() -> Callable[[], object]:
    from keel.gateway.tests.conftest import DOORDASH, event

    operator = _worker("ops@dash.example")
    dash = gateway.create_platform(
        "Dash", operator=operator, policy=DOORDASH, effective_from=date(2026, 1, 1)
    )
    for ref, email in (("dasher-1", "ana@example.org"), ("dasher-2", "ben@example.org")):
        gateway.link_with_code(dash, ref, gateway.create_link_code(_worker(email)))
    batch = [
        event("e1", "2026-02-02", 60_000),
        event("e2", "2026-02-03", 60_000),
        event("e3", "2026-02-03", 150_000, worker_ref="dasher-2"),
        event("e4", "2026-02-04", 5_000, worker_ref="not-linked-yet"),
    ]
    return lambda: gateway.record_events(dash, batch)


def path_worker_dashboard() -> Callable[[], object]:
    worker = _worker("ana@example.org")
    _import(worker)
    _offer(worker)
    client = _client(worker)
    return lambda: _ok(client.get("/dashboard/"))


def path_pool_page() -> Callable[[], object]:
    from keel.pools.tests.conftest import this_month

    pool, steward = _fund()
    pools.run_month(pool, this_month())
    client = _client(steward)
    return lambda: _ok(client.get(f"/pools/{pool.slug}/"))


def path_pool_monthly_run() -> Callable[[], object]:
    from keel.pools.tests.conftest import this_month

    pool, _ = _fund()
    return lambda: pools.run_month(pool, this_month())


def path_career_mrr_page() -> Callable[[], object]:
    worker = _worker("ana@example.org")
    _offer(worker)
    client = _client(worker)
    return lambda: _ok(client.get("/career/offers/revenue/"))


def _ok(response: Any) -> None:
    assert response.status_code == 200


HOT_PATHS: dict[str, Callable[[], Callable[[], object]]] = {
    IMPORT: path_income_import,
    EARNINGS: path_earnings_batch,
    DASHBOARD: path_worker_dashboard,
    POOL_PAGE: path_pool_page,
    POOL_RUN: path_pool_monthly_run,
    MRR: path_career_mrr_page,
}


@pytest.mark.parametrize("name", list(HOT_PATHS))
def test_every_hot_query_filters_by_its_distribution_key(db: None, name: str) -> None:
    run = HOT_PATHS[name]()
    with CaptureQueriesContext(connection) as captured:
        run()
    sqls = [query["sql"] for query in captured.captured_queries]
    vendor = connection.vendor
    crossings = [c for c in CROSSINGS if c.vendor in (None, vendor)]
    used: set[Crossing] = set()
    unexplained = []
    for finding in findings(sqls, layout(), vendor):
        allowed = [c for c in crossings if c.matches(finding.table, finding.sql)]
        used.update(allowed)
        if not allowed:
            unexplained.append(f"{finding.table}: {finding.sql}")
    assert not unexplained, "queries without their distribution key:\n" + "\n".join(unexplained)
    assert sorted(c.name for c in used) == sorted(c.name for c in crossings if name in c.paths)
