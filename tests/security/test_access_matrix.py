"""Every page and every API operation, asked by every role, answers as `matrix.py` declares.

The routes come from Django's URL resolver and the API's OpenAPI document, so a new
endpoint that is not in the matrix fails `test_every_route_is_in_the_matrix` or
`test_every_api_operation_is_in_the_matrix`, naming it.

One world (`world.py`) is built once for the module, inside a transaction that is rolled
back at the end; each test asks as one role for one area of the site and reports every
mismatch at once. Refused writes are checked to have changed nothing in the database.
Ids are checked for leaks: an id that does not exist and another tenant's id get the same
answer, and ids of two tenants are never mixed in one address.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.exceptions import NoReverseMatch

from keel.api.api import api
from keel.income.models import Source

from . import matrix
from .matrix import ADMIN_FAMILY, ADMIN_PREFIX, API, OWNERS, ROLES, WEB, Operation, Route
from .world import MARKERS, OTHER_TENANT, World, build_world

LOGIN_PATHS = ("/accounts/login/", "/admin/login/")
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Statuses an allowed POST with an empty or probing body may get: done, or the form
# refused with its errors, or a conflict with the object's state.
POST_HANDLED = frozenset({200, 201, 400, 409, 422})
# Answers given by a gate before any object is looked up: they must not depend on ids.
GATES = frozenset({"login", "deny-401", "deny-403", "deny-405"})
MISSING_INT = 987_654_321
# Tables whose rows change with any request, refused or not.
VOLATILE_TABLES = frozenset({"django_session"})
VOLATILE_PREFIXES = ("audit_",)
VOLATILE_COLUMNS = frozenset({"last_used_at", "last_login"})
STAFF_AREA = ADMIN_FAMILY.area
QUIET_LOGGERS = ("django.request", "keel.request", "axes")
AREAS = sorted({route.area for route in WEB.values()} | {ADMIN_FAMILY.area})


# ---------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Found:
    key: str
    pattern: str


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = "") -> Iterator[Found]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            pattern = prefix + str(entry.pattern)
            if entry.name:
                key = f"{namespace}:{entry.name}" if namespace else entry.name
            else:
                key = pattern
            yield Found(key, pattern)


def site_routes() -> list[Found]:
    return list(_walk(get_resolver()))


def openapi_operations() -> set[str]:
    schema = api.get_openapi_schema()
    return {
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }


def _is_api(found: Found) -> bool:
    return found.key.startswith("api-1:") or found.pattern.startswith("api/v1/")


def _is_admin(found: Found) -> bool:
    return found.key.startswith(ADMIN_PREFIX) or found.pattern.startswith("admin/")


def _api_path_patterns() -> list[re.Pattern[str]]:
    patterns = []
    for operation in openapi_operations():
        path = operation.split(" ", 1)[1]
        regex = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path))
        patterns.append(re.compile(rf"^{regex}$"))
    return patterns


def _django_to_regex(pattern: str) -> str:
    """A resolver pattern as the path of a request: `<int:id>` and `<path:x>` as one
    segment, so it can be matched against the OpenAPI paths."""
    return "/" + re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", pattern)


def test_every_route_is_in_the_matrix() -> None:
    api_paths = _api_path_patterns()
    missing = []
    for found in site_routes():
        if _is_admin(found):
            continue  # the admin family
        if found.key in WEB:
            continue
        if _is_api(found):
            # An operation's URL: declared by method and path in matrix.API.
            probe = re.sub(r"\{[^}]+\}", "x", _django_to_regex(found.pattern))
            if any(p.match(probe) for p in api_paths):
                continue
        missing.append(f"{found.key} ({found.pattern})")
    assert not missing, "routes missing from tests/security/matrix.py:\n  " + "\n  ".join(
        sorted(missing)
    )


def test_the_matrix_names_only_routes_that_exist() -> None:
    keys = {found.key for found in site_routes()}
    stale = sorted(name for name in WEB if name.split("#")[0] not in keys)
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


def test_every_api_operation_is_in_the_matrix() -> None:
    operations = openapi_operations()
    missing = sorted(operations - set(API))
    stale = sorted(set(API) - operations)
    assert not missing, f"API operations missing from tests/security/matrix.py: {missing}"
    assert not stale, f"matrix entries for API operations that no longer exist: {stale}"


# ---------------------------------------------------------------------------- the world


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """Built once for the module in a transaction rolled back at its end; each test runs
    in a savepoint inside it (the `db` fixture)."""
    # Thousands of refusals would each log a line; none of them is news here.
    quiet = [logging.getLogger(name) for name in QUIET_LOGGERS]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.ERROR)
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        # The OpenAPI document is rebuilt on every request (about a second): built once,
        # every role still gets it through the view.
        patch.setattr(api, "get_openapi_schema", _memoized(api.get_openapi_schema))
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            for logger, level in zip(quiet, levels, strict=True):
                logger.setLevel(level)


def _memoized(build: Callable[..., Any]) -> Callable[..., Any]:
    built: dict[str, Any] = {}

    def schema(**kwargs: Any) -> Any:
        key = repr(sorted(kwargs.items()))
        if key not in built:
            built[key] = build(**kwargs)
        return built[key]

    return schema


@dataclass
class Clients:
    web: Client
    api: Client


def clients_for(world: World, role: str) -> Clients:
    if role == "anonymous":
        return Clients(Client(), Client())
    web = Client()
    web.force_login(world.users[role])
    key = world.keys.get(role)
    if key is None:
        return Clients(web, web)
    return Clients(web, Client(headers={"Authorization": f"Bearer {key}"}))


# ---------------------------------------------------------------------------- outcomes


def observed(response: Any) -> str:
    status = response.status_code
    if status in REDIRECTS:
        location = response["Location"]
        if any(location.startswith(p) for p in LOGIN_PATHS):
            return "login"
        return f"redirect to {location}"
    return str(status)


def matches(expected: str, response: Any, method: str) -> bool:
    status = response.status_code
    seen = observed(response)
    if expected == "public":
        return status == 200
    if expected == "login":
        return seen == "login"
    if expected.startswith("deny-"):
        return status == int(expected.removeprefix("deny-"))
    if expected == "allow":
        if status in REDIRECTS:
            return seen != "login"
        if method == "GET":
            return 200 <= status < 300
        return status in POST_HANDLED
    raise AssertionError(f"no check for {expected!r}")


def response_text(response: Any) -> str:
    """What a response says, as text: pages, JSON, CSV, and every file of a zip archive
    (a data export); other downloads (PDFs, receipts) say nothing here."""
    content_type = response.get("Content-Type", "")
    if content_type.startswith("application/zip"):
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        return "\n".join(
            archive.read(member).decode("utf-8", "replace") for member in archive.namelist()
        )
    if getattr(response, "streaming", False):
        return ""
    if content_type.startswith("text/") or "json" in content_type:
        return str(response.content.decode("utf-8", "replace"))
    return ""


def leaked_markers(role: str, text: str, area: str, shown: tuple[str, ...] = ()) -> list[str]:
    """The private words of tenants other than the role's in the response's text, but for
    those the route shows to anyone (`shown`). Staff reads everything in the admin area."""
    if role == "staff" and area == STAFF_AREA:
        return []
    return [
        word
        for word, readers in MARKERS.items()
        if role not in readers and word not in shown and word in text
    ]


_COLUMNS: dict[str, str] = {}


def _selects() -> dict[str, str]:
    """One SELECT per table of every column but the volatile ones (sessions, the audit
    trail and last-used stamps change with requests that change nothing else)."""
    if not _COLUMNS:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            for table in sorted(connection.introspection.table_names(cursor)):
                if table in VOLATILE_TABLES or table.startswith(VOLATILE_PREFIXES):
                    continue
                columns = [
                    quote(c.name)
                    for c in connection.introspection.get_table_description(cursor, table)
                    if c.name not in VOLATILE_COLUMNS
                ]
                _COLUMNS[table] = f"SELECT {', '.join(columns)} FROM {quote(table)}"
    return _COLUMNS


def fingerprint() -> dict[str, list[str]]:
    state = {}
    with connection.cursor() as cursor:
        for table, select in _selects().items():
            cursor.execute(select)
            state[table] = sorted(map(repr, cursor.fetchall()))
    return state


def write_count() -> int:
    """Rows written on this connection so far: a cheap way to tell that a request wrote
    nothing at all (only then is the full comparison needed)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0)"
                " FROM pg_stat_xact_user_tables"
            )
        else:
            cursor.execute("SELECT total_changes()")
        row = cursor.fetchone()
    return int(row[0])


def refused(send: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Send a request that must change nothing; the tables it changed anyway, which are
    rolled back so the next request meets the same world."""
    savepoint = transaction.savepoint()
    written = write_count()
    response = send()
    if write_count() == written:
        transaction.savepoint_commit(savepoint)
        return response, []
    after = fingerprint()
    transaction.savepoint_rollback(savepoint)
    return response, changed_tables(fingerprint(), after)


def changed_tables(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))


# ---------------------------------------------------------------------------- filling


class CannotFill(Exception):
    pass


def _tenant_values(world: World, tenant: str | None, name: str) -> dict[str, Any]:
    if tenant is None:
        raise CannotFill(f"{name}: no tenant declared to fill its ids from")
    return world.values[tenant]


def web_kwargs(world: World, name: str, route: Route, tenant: str | None = None) -> dict[str, Any]:
    """The route's URL kwargs, ids from `tenant` (the route's own by default)."""
    pattern = _route_pattern(name)
    tenant = tenant or route.tenant
    kwargs: dict[str, Any] = {}
    for kwarg in pattern:
        if kwarg in route.fixed:
            kwargs[kwarg] = route.fixed[kwarg]
        elif kwarg in route.shared:
            kwargs[kwarg] = world.shared[kwarg]
        else:
            source = route.tenant if kwarg in route.capabilities else tenant
            values = _tenant_values(world, source, name)
            value_name = route.ids.get(kwarg, kwarg)
            if value_name not in values:
                raise CannotFill(f"{name}: the world has no {value_name!r} for {source}")
            kwargs[kwarg] = values[value_name]
    for kwarg in route.tamper:
        kwargs[kwarg] = _tampered(str(kwargs[kwarg]))
    return kwargs


def id_kwargs(name: str, route: Route) -> list[str]:
    """The kwargs that are ids of the owning tenant's objects."""
    return [
        kwarg
        for kwarg in _route_pattern(name)
        if kwarg not in route.fixed
        and kwarg not in route.shared
        and kwarg not in route.capabilities
    ]


@functools.cache
def _routes_by_key() -> dict[str, Found]:
    return {found.key: found for found in site_routes()}


def _route_pattern(name: str) -> list[str]:
    """The kwarg names of a URL name (`name#label` is the route `name`)."""
    found = _routes_by_key().get(name.split("#")[0])
    if found is None:
        raise CannotFill(f"{name}: no such route")
    return [a or b for a, b in re.findall(r"<(?:[a-z]+:)?(\w+)>|\(\?P<(\w+)>", found.pattern)]


def _tampered(token: str) -> str:
    # The last character of the signature, changed: the link's shape stays valid.
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def missing_value(value: Any) -> Any:
    return MISSING_INT if isinstance(value, int) else f"no-such-{value}"[:60]


def web_url(name: str, route: Route, kwargs: Mapping[str, Any]) -> str:
    if route.path is not None:
        return route.path
    try:
        return reverse(name.split("#")[0], kwargs=kwargs or None)
    except NoReverseMatch as exc:
        raise CannotFill(f"{name}: {exc}") from None


def api_path(template: str, operation: Operation, values: Mapping[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        param = match.group(1)
        value_name = operation.ids.get(param, param)
        if value_name not in values:
            raise CannotFill(f"{template}: the world has no {value_name!r}")
        return str(values[value_name])

    return re.sub(r"\{(\w+)\}", fill, template)


# ---------------------------------------------------------------------------- asking


class Asker:
    """Sends one role's requests, records every mismatch, and checks that refused writes
    changed nothing."""

    def __init__(self, world: World, role: str) -> None:
        self.world = world
        self.role = role
        self.clients = clients_for(world, role)
        self.problems: list[str] = []

    def _send(self, client: Client, method: str, url: str, data: Any, json_body: bool) -> Any:
        if method == "GET":
            return client.get(url)
        if json_body:
            payload = json.dumps(data if data is not None else {})
            return client.generic(method, url, payload, content_type="application/json")
        return client.post(url, dict(data or {}))

    def ask(
        self,
        label: str,
        area: str,
        method: str,
        url: str,
        expected: str,
        *,
        api: bool = False,
        data: Any = None,
        shown: tuple[str, ...] = (),
    ) -> Any:
        if expected == "act":
            return None
        client = self.clients.api if api else self.clients.web
        if expected.startswith("deny-") or expected == "login":
            response, changed = refused(lambda: self._send(client, method, url, data, api))
            if changed:
                self.problems.append(
                    f"{label}: {method} {url} as {self.role} was refused but changed {changed}"
                )
        else:
            response = self._send(client, method, url, data, api)
        if not matches(expected, response, method):
            self.problems.append(
                f"{label}: {method} {url} as {self.role}: expected {expected},"
                f" got {observed(response)}"
            )
        leaked = leaked_markers(self.role, response_text(response), area, shown)
        if leaked:
            self.problems.append(
                f"{label}: {method} {url} as {self.role} shows another tenant's {leaked}"
            )
        return response

    def fail_if_any(self) -> None:
        if self.problems:
            pytest.fail(
                f"{len(self.problems)} access-control mismatches:\n  " + "\n  ".join(self.problems),
                pytrace=False,
            )


def owns(role: str, tenant: str | None) -> bool:
    return tenant is not None and role in OWNERS[tenant]


def _unseen(expected: str, refusal: bool) -> str:
    """The answer an id the role may not see must get: a gate's own, else not found. A
    refusal is a 403 about the role's own object (the claimant deciding their own
    claim), so anyone else's object is not found."""
    if expected in GATES and not refusal:
        return expected
    return "deny-404"


def resolve(world: World, value: Any) -> Any:
    """`@B.name` is tenant B's `name`, `@shared.name` a shared value; anything else is
    itself."""
    if isinstance(value, str) and value.startswith("@"):
        tenant, name = value[1:].split(".", 1)
        values = world.shared if tenant == "shared" else world.values.get(tenant, {})
        if name not in values:
            raise CannotFill(f"the world has no {name!r} for {tenant}")
        return values[name]
    return value


def check_web_route(asker: Asker, name: str, route: Route) -> None:
    world, role = asker.world, asker.role
    try:
        kwargs = web_kwargs(world, name, route)
        url = web_url(name, route, kwargs)
        data = {k: resolve(world, v) for k, v in route.data.items()}
        if route.query:
            url += "?" + urlencode({k: resolve(world, v) for k, v in route.query.items()})
    except CannotFill as exc:
        asker.problems.append(f"cannot fill the route: {exc}")
        return
    shown = route.public_markers
    area = STAFF_AREA if route.staff_reads_all and role == "staff" else route.area
    if route.probe and route.post is not None:
        asker.ask(name, area, "POST", url, route.post[role], data=data, shown=shown)
        return
    asker.ask(name, area, "GET", url, route.get[role], shown=shown)
    if route.probe:
        return
    if route.post is not None:
        asker.ask(name, area, "POST", url, route.post[role], data=data, shown=shown)
    ids = id_kwargs(name, route) if route.tenant else []
    # A tampered link is refused before any id in the address is looked at.
    if not ids or route.path is not None or route.tamper:
        return
    # The leak check asks with GET, or with POST where GET stops at the method gate.
    method, table = "GET", route.get
    if route.get[role] == "deny-405" and route.post is not None:
        method, table = "POST", route.post
    expected = table[role]
    if expected == "act" and not owns(role, route.tenant):
        return
    unseen = _unseen(expected, role in route.refusals)
    variants: list[tuple[str, dict[str, Any]]] = [
        ("ids that do not exist", {**kwargs, **{k: missing_value(kwargs[k]) for k in ids}})
    ]
    # The owner asks for the other tenant's objects, whole and one id at a time; to
    # everyone else both tenants' objects are alike, and the owner's were asked above.
    if owns(role, route.tenant) and route.cross_tenant:
        other = OTHER_TENANT[route.tenant]  # type: ignore[index]
        others = web_kwargs(world, name, route, other)
        variants.append((f"{other}'s ids", others))
        if len(ids) > 1:
            for kwarg in ids:
                variants.append(
                    (f"{other}'s {kwarg} in own address", {**kwargs, kwarg: others[kwarg]})
                )
    for label, variant in variants:
        try:
            variant_url = web_url(name, route, variant)
        except CannotFill as exc:
            asker.problems.append(f"cannot fill the route: {exc}")
            continue
        asker.ask(f"{name} with {label}", area, method, variant_url, unseen, data=data, shown=shown)


def check_operation(asker: Asker, key: str, operation: Operation) -> None:
    world, role = asker.world, asker.role
    method, template = key.split(" ", 1)
    params = re.findall(r"\{(\w+)\}", template)
    try:
        values = world.values[operation.tenant] if operation.tenant else {}
        path = api_path(template, operation, values)
    except (CannotFill, KeyError) as exc:
        asker.problems.append(f"cannot fill the operation: {exc}")
        return
    expected = operation.outcomes[role]
    asker.ask(key, "api", method, path, expected, api=True, data=operation.body)
    if not params or operation.tenant is None:
        return
    if expected == "act" and not owns(role, operation.tenant):
        return
    unseen = _unseen(expected, role in operation.refusals)
    names = [operation.ids.get(p, p) for p in params]
    missing = {**values, **{n: missing_value(values[n]) for n in names}}
    variants: list[tuple[str, Mapping[str, Any]]] = [("ids that do not exist", missing)]
    if owns(role, operation.tenant):
        other = OTHER_TENANT[operation.tenant]
        variants.append((f"{other}'s ids", world.values[other]))
        if len(names) > 1:
            for name in names:
                variants.append(
                    (
                        f"{other}'s {name} in own address",
                        {**values, name: world.values[other][name]},
                    )
                )
    for label, variant in variants:
        asker.ask(
            f"{key} with {label}",
            "api",
            method,
            api_path(template, operation, variant),
            unseen,
            api=True,
            data=operation.body,
        )


# ---------------------------------------------------------------------------- the tests


def admin_routes() -> dict[str, Route]:
    """The admin family as requested: its index, every model's list and the pages the
    matrix names; the rest (forms, ids, autocomplete) are Django's internals."""
    routes = {}
    for found in site_routes():
        if not found.key.startswith(ADMIN_PREFIX):
            continue
        if found.key in matrix.ADMIN:
            routes[found.key] = matrix.ADMIN[found.key]
        elif found.key == "admin:index" or found.key.endswith("_changelist"):
            routes[found.key] = ADMIN_FAMILY
    return routes


@pytest.mark.parametrize("area", AREAS)
@pytest.mark.parametrize("role", ROLES)
def test_pages(world: World, db: None, role: str, area: str) -> None:
    asker = Asker(world, role)
    routes = admin_routes() if area == "admin" else {n: r for n, r in WEB.items() if r.area == area}
    assert routes, f"no routes in the area {area}"
    for name, route in sorted(routes.items()):
        check_web_route(asker, name, route)
    asker.fail_if_any()


@pytest.mark.parametrize("role", ROLES)
def test_api(world: World, db: None, role: str) -> None:
    asker = Asker(world, role)
    for key, operation in sorted(API.items()):
        check_operation(asker, key, operation)
    asker.fail_if_any()


# Where each tenant's marker shows to its own readers: without it, the check that no one
# else sees it could pass on pages that never show it at all.
MARKER_PAGES = {
    "Amberquill": ("worker", "career:contract", "A"),
    "Brackenfold": ("other_worker", "career:contract", "B"),
    "Peppercorn": ("pool_member", "pools:claim", "P"),
    "Quillmarsh": ("other_pool_member", "pools:claim", "Q"),
    "Ospreyline": ("platform", "gateway:console_keys", "X"),
    "Yarrowmere": ("other_platform", "gateway:console_keys", "Y"),
}


def test_markers_show_to_their_readers(world: World, db: None) -> None:
    assert set(MARKER_PAGES) == set(MARKERS)
    for word, (role, name, tenant) in MARKER_PAGES.items():
        assert role in MARKERS[word]
        route = WEB[name]
        url = web_url(name, route, web_kwargs(world, name, route, tenant))
        response = clients_for(world, role).web.get(url)
        assert response.status_code == 200, (word, url)
        assert word in response.content.decode(), f"{url} does not show {word} to {role}"
    # The data export is checked inside its archive: A's own shows A's marker.
    export = clients_for(world, "worker").web.post(reverse("accounts:data_export"))
    assert export.status_code == 200
    assert "Amberquill" in response_text(export)


def test_a_write_behind_a_refusal_is_caught_and_undone(world: World, db: None) -> None:
    """The guard around refused requests sees an update and an insert, names their tables
    and rolls them back: otherwise "nothing changed" would hold vacuously."""
    source_id = world.values["A"]["source_id"]
    before = Source.objects.get(pk=source_id).name

    def rename_and_add() -> None:
        Source.objects.filter(pk=source_id).update(name="Renamed by a refused request")
        Group.objects.create(name="made by a refused request")

    _, changed = refused(rename_and_add)
    assert changed == ["auth_group", "income_source"]
    assert Source.objects.get(pk=source_id).name == before
    assert not Group.objects.filter(name="made by a refused request").exists()
    _, changed = refused(lambda: Source.objects.filter(pk=source_id).count())
    assert changed == []
