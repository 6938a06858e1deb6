"""The declarative route table: which path prefix goes to which upstream, and under which rules.

The table is a YAML file (``gateway/routes.yaml`` by default, ``GATEWAY_ROUTES_FILE`` otherwise; its
format is described in ``gateway/README.md``). It is validated as a whole — a typo is an error, not a
default — and compiled into a :class:`RouteTable` that matches request paths by their longest
prefix, on segment boundaries: ``/payment`` matches ``/payment`` and ``/payment/x``, never
``/payments``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.path import InvalidPathError, RequestPath, parse_path
from gateway.rate_limit import RatePolicy
from gateway.upstream_client import Origin

__all__ = [
    "DEFAULT_INTERNAL_PATHS",
    "IDEMPOTENT_METHODS",
    "CircuitBreakerPolicy",
    "CompiledRoute",
    "RateLimitClass",
    "RetryPolicy",
    "Route",
    "RouteTable",
    "RouteTableError",
    "RouteTableFile",
    "Upstream",
    "load_route_table",
    "upstream_env_name",
]

#: Methods a retry may repeat: sending them twice has the effect of sending them once (RFC 9110 §9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Upstream statuses that mean "not handled, try again": the request never reached a working upstream.
RETRYABLE_STATUSES = frozenset({502, 503, 504})
_NAME = r"^[a-z][a-z0-9_-]{0,62}$"
#: RFC 6749 scope-token.
_SCOPE = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
#: Settings that already use GATEWAY_<X>_URL, so no upstream may be called <x>.
_RESERVED_UPSTREAM_NAMES = frozenset({"jwks", "redis"})

#: The path of an upstream URL: sent before every forwarded path as it is, so already encoded.
_BASE_PATH = re.compile(r"(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)?")

Name = Annotated[str, Field(pattern=_NAME)]


class RouteTableError(ValueError):
    """The route table file cannot be read or is not valid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Strict):
    """How often an idempotent request is tried, on connect errors and 502/503/504 only."""

    attempts: int = Field(default=1, ge=1, le=5, description="Tries in all; 1 means no retry.")
    backoff: float = Field(
        default=0.05, ge=0, le=10, description="Seconds before the first retry, doubling each time (with jitter)."
    )


class CircuitBreakerPolicy(_Strict):
    """When an upstream's breaker opens and how long it stays open."""

    failures: int = Field(default=5, ge=1, description="Consecutive failures (connect error, timeout, 502-504).")
    cool_down: float = Field(default=10.0, gt=0, description="Seconds open before one probe request is let through.")


def _path_in_normal_form(path: str) -> str:
    if path == "/":
        return path
    if path.endswith("/") or "%" in path:
        raise ValueError(f"{path!r}: a path here has no trailing slash and no percent-encoding")
    try:
        parse_path(path.encode("ascii"))
    except (InvalidPathError, UnicodeEncodeError) as error:
        raise ValueError(f"{path!r} is not a path in normal form: {error}") from error
    return path


def _not_root(path: str) -> str:
    if path == "/":
        raise ValueError('"/" would make a whole upstream internal; give it no routes instead')
    return path


#: A path in normal form, as route prefixes are written.
NormalPath = Annotated[str, AfterValidator(_path_in_normal_form)]
#: A path of an upstream that the gateway never forwards to it.
InternalPath = Annotated[str, AfterValidator(_path_in_normal_form), AfterValidator(_not_root)]
#: What the services expose for the cluster only: metrics scrapes and the orchestrator's probes.
DEFAULT_INTERNAL_PATHS = ("/metrics", "/health")


class Upstream(_Strict):
    """A service behind the gateway."""

    url: str = Field(description="Base URL, http(s)://host[:port][/path]; GATEWAY_<NAME>_URL overrides it.")
    circuit_breaker: CircuitBreakerPolicy = Field(default_factory=CircuitBreakerPolicy)
    internal_paths: tuple[InternalPath, ...] | None = Field(
        default=None,
        description="Paths of the upstream (below its URL) never forwarded to it; default: the table's internal_paths.",
    )

    @field_validator("url")
    @classmethod
    def _absolute_http_url(cls, url: str) -> str:
        return checked_upstream_url(url)


class RateLimitClass(_Strict):
    """A token bucket: ``rate`` requests per second on average, bursts of up to ``burst``."""

    rate: float = Field(gt=0, description="Tokens added per second.")
    burst: int = Field(ge=1, description="Bucket size: requests allowed at once.")


class Route(_Strict):
    """One entry of ``routes:``; omitted fields come from ``defaults:``."""

    prefix: NormalPath = Field(description='Path prefix, "/" or "/segment[/segment…]", matched on segment boundaries.')
    upstream: Name
    strip_prefix: bool | str = Field(
        default=False,
        description="Remove the prefix (true), or this leading part of it, before forwarding.",
    )
    auth: Literal["required", "public"] = "required"
    scopes: tuple[str, ...] = Field(default=(), description="Scopes the token must grant (required routes).")
    audience: str | None = Field(default=None, description="Expected token audience; default the upstream's name.")
    rate_limit: Name | None = Field(default=None, description="Name of a rate-limit class; none = unlimited.")
    max_body_bytes: int = Field(default=1_048_576, ge=0, description="Largest request body; 413 above.")
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds the upstream may stay silent once the request is sent; 504 after."
    )
    body_timeout: float = Field(default=60.0, gt=0, description="Seconds the client may take to send its body; 408.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("scopes")
    @classmethod
    def _valid_scopes(cls, scopes: tuple[str, ...]) -> tuple[str, ...]:
        for scope in scopes:
            if not _SCOPE.fullmatch(scope):
                raise ValueError(f"not a valid OAuth scope: {scope!r}")
        return scopes

    @model_validator(mode="after")
    def _scopes_need_tokens(self) -> Route:
        if self.auth == "public" and self.scopes:
            raise ValueError("a public route cannot require scopes")
        return self

    @model_validator(mode="after")
    def _strips_part_of_its_prefix(self) -> Route:
        part = self.strip_prefix
        if isinstance(part, str) and not (part == self.prefix or self.prefix.startswith(part + "/")):
            raise ValueError(f"strip_prefix {part!r} is not a leading part of the prefix {self.prefix!r}")
        return self

    @property
    def stripped(self) -> str:
        """The leading part of the path removed before forwarding ("" for none)."""
        if self.strip_prefix is True:
            return "" if self.prefix == "/" else self.prefix
        return self.strip_prefix or ""


class RouteTableFile(_Strict):
    """The whole file."""

    upstreams: dict[Name, Upstream]
    internal_paths: tuple[InternalPath, ...] = Field(
        default=DEFAULT_INTERNAL_PATHS,
        description="Paths of every upstream (below its URL) that answer 404 at the gateway, with all below them.",
    )
    rate_limits: dict[Name, RateLimitClass] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict, description="Values for route fields a route omits.")
    routes: list[Route]

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        defaults = data.get("defaults") or {}
        routes = data.get("routes")
        if not isinstance(defaults, Mapping) or not isinstance(routes, list):
            return data
        unknown = set(defaults) - set(Route.model_fields) - {"prefix", "upstream"}
        if unknown or {"prefix", "upstream"} & set(defaults):
            raise ValueError(f"defaults may only set route fields except prefix and upstream, not {sorted(unknown)}")
        merged = [{**defaults, **route} if isinstance(route, Mapping) else route for route in routes]
        return {**data, "routes": merged}

    @model_validator(mode="after")
    def _references_resolve(self) -> RouteTableFile:
        reserved = _RESERVED_UPSTREAM_NAMES & set(self.upstreams)
        if reserved:
            raise ValueError(f"upstream names reserved for settings: {sorted(reserved)}")
        prefixes: set[str] = set()
        for route in self.routes:
            if route.prefix in prefixes:
                raise ValueError(f"prefix {route.prefix} is routed twice")
            prefixes.add(route.prefix)
            if route.upstream not in self.upstreams:
                raise ValueError(f"route {route.prefix}: no upstream named {route.upstream!r}")
            if route.rate_limit is not None and route.rate_limit not in self.rate_limits:
                raise ValueError(f"route {route.prefix}: no rate-limit class named {route.rate_limit!r}")
            forwarded = _segments_of(route.prefix)[route.stripped.count("/") :]
            for internal in self.internal_paths_of(route.upstream):
                if _starts_with(forwarded, _segments_of(internal)):
                    raise ValueError(
                        f"route {route.prefix} only leads to {internal}, an internal path of {route.upstream}"
                    )
        return self

    def internal_paths_of(self, upstream: str) -> tuple[str, ...]:
        """The internal paths of `upstream`: its own list, else the table's."""
        own = self.upstreams[upstream].internal_paths
        return self.internal_paths if own is None else own


@dataclass(frozen=True, eq=False)
class CompiledRoute:
    """A route ready for the hot path: everything derived once, at load time."""

    route: Route
    #: Where the upstream is, and the base path its URL puts before every forwarded path.
    origin: Origin
    audience: str
    rate_policy: RatePolicy | None
    #: Seconds the upstream may stay silent once the request is sent.
    read_timeout: float
    #: The upstream's internal paths, as segments.
    internal: tuple[tuple[str, ...], ...] = ()
    #: Segments removed before forwarding.
    strip_depth: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "strip_depth", self.route.stripped.count("/"))

    @property
    def prefix(self) -> str:
        """The route's prefix, also its label in metrics and logs."""
        return self.route.prefix

    @property
    def upstream(self) -> str:
        """The name of the upstream this route goes to."""
        return self.route.upstream

    def upstream_path(self, path: RequestPath) -> str:
        """The raw path to request upstream: the upstream's base path, then the client's path without
        the prefix if the route strips it."""
        if self.strip_depth == 0:
            return self.origin.base_path + path.raw
        rest = path.raw_segments[self.strip_depth :]
        return self.origin.base_path + ("/" + "/".join(rest) if rest else "/")

    def reaches_internal(self, path: RequestPath) -> bool:
        """Whether `path` would reach one of the upstream's internal paths (or something below one)."""
        segments = path.segments
        if len(segments) <= self.strip_depth or not self.internal:
            return False
        # ";" parameters dropped, as servlet containers do before matching a path. Most paths differ
        # from every internal one in their first segment already: that is checked first.
        first = segments[self.strip_depth].split(";", 1)[0]
        if not any(internal[0] == first for internal in self.internal):
            return False
        forwarded = tuple(segment.split(";", 1)[0] for segment in segments[self.strip_depth :])
        return any(_starts_with(forwarded, internal) for internal in self.internal)

    def retries(self, method: str) -> int:
        """How many tries a request with this method gets."""
        return self.route.retry.attempts if method in IDEMPOTENT_METHODS else 1


class RouteTable:
    """The compiled table: upstreams, rate-limit classes and routes, matched by longest prefix."""

    def __init__(self, spec: RouteTableFile, upstream_urls: Mapping[str, str], default_timeout: float) -> None:
        self.spec = spec
        self.upstream_urls = dict(upstream_urls)
        self.routes: dict[tuple[str, ...], CompiledRoute] = {}
        for route in spec.routes:
            compiled = CompiledRoute(
                route=route,
                origin=Origin.of(self.upstream_urls[route.upstream]),
                audience=route.audience or route.upstream,
                rate_policy=_rate_policy(spec, route.rate_limit),
                read_timeout=route.timeout or default_timeout,
                internal=tuple(_segments_of(path) for path in spec.internal_paths_of(route.upstream)),
            )
            self.routes[_segments_of(route.prefix)] = compiled
        self.max_depth = max((len(key) for key in self.routes), default=0)

    def match(self, path: RequestPath) -> CompiledRoute | None:
        """The route with the longest prefix that `path` starts with, segment by segment."""
        segments = path.segments
        if segments and not segments[-1]:
            segments = segments[:-1]  # "/payment/" is under "/payment"
        for depth in range(min(len(segments), self.max_depth), -1, -1):
            route = self.routes.get(segments[:depth])
            if route is not None:
                return route
        return None

    def upstream_names(self) -> list[str]:
        """The upstreams, in the order of the file."""
        return list(self.spec.upstreams)

    def public_prefix(self, upstream: str) -> str:
        """The shortest prefix a route strips to reach `upstream`; "" if it only has unstripped routes."""
        stripped = [route.stripped for route in self.spec.routes if route.upstream == upstream and route.stripped]
        return min(stripped, key=len) if stripped else ""


def _rate_policy(spec: RouteTableFile, name: str | None) -> RatePolicy | None:
    if name is None:
        return None
    bucket = spec.rate_limits[name]
    return RatePolicy(name=name, rate=bucket.rate, burst=bucket.burst)


def _segments_of(prefix: str) -> tuple[str, ...]:
    return () if prefix == "/" else tuple(prefix[1:].split("/"))


def _starts_with(segments: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
    return segments[: len(prefix)] == prefix


def checked_upstream_url(url: str) -> str:
    """`url` without a trailing slash if it is an absolute http(s) URL without query or fragment."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"an upstream URL has no query, fragment or credentials: {url!r}")
    if not _BASE_PATH.fullmatch(parts.path):
        raise ValueError(f"an upstream URL's path is percent-encoded ASCII: {url!r}")
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError as error:
        raise ValueError(f"not a valid port in {url!r}") from error
    return url.rstrip("/")


def upstream_env_name(upstream: str) -> str:
    """The environment variable overriding an upstream's URL: ``GATEWAY_<NAME>_URL``."""
    return f"GATEWAY_{upstream.upper().replace('-', '_')}_URL"


def load_route_table(
    path: Path,
    *,
    default_timeout: float,
    url_overrides: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> RouteTable:
    """Read, validate and compile the route table at `path`.

    An upstream's URL comes from `url_overrides`, else from ``GATEWAY_<NAME>_URL`` in `environ`
    (the process environment by default), else from the file. Raises :class:`RouteTableError`.
    """
    environ = os.environ if environ is None else environ
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise RouteTableError(f"cannot read {path}: {error}") from error
    try:
        spec = RouteTableFile.model_validate(document)
    except ValidationError as error:
        raise RouteTableError(f"{path} is not a valid route table:\n{_summary(error)}") from error
    overrides = dict(url_overrides or {})
    urls: dict[str, str] = {}
    for name, upstream in spec.upstreams.items():
        url = overrides.get(name) or environ.get(upstream_env_name(name)) or upstream.url
        try:
            urls[name] = checked_upstream_url(url)
        except ValueError as error:
            raise RouteTableError(f"upstream {name}: {error}") from error
    return RouteTable(spec, urls, default_timeout)


def _summary(error: ValidationError) -> str:
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in problem["loc"]) or "(file)"
        lines.append(f"  {location}: {problem['msg']}")
    return "\n".join(lines)
