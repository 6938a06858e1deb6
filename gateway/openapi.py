"""The suite's one OpenAPI document, merged from the services' documents.

:func:`merge_openapi` joins the services' documents into the one a portal team reads: every path under
the prefix the gateway routes it by, operation ids and component names changed only where they
collide, and one bearer scheme for every operation that needs a token, since the gateway checks every
token the same way. The docs UI showing it is :mod:`gateway.docs_ui`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BEARER_SCHEME", "ROOT_SERVICE", "merge_openapi"]

#: The one security scheme of the merged document: every access token is a JWT issued by identity.
BEARER_SCHEME = "bearerAuth"
_BEARER_SCHEME_OBJECT: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "OAuth 2.0 access token (RFC 9068 JWT) issued by the identity service.",
}
#: The service name, for namespacing, of the document whose paths the gateway exposes unprefixed (key "").
ROOT_SERVICE = "root"

_COMPONENT_KINDS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
)
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
#: "" or "/segment[/segment…]" with characters that are also valid in component names.
_PREFIX = re.compile(r"(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


def merge_openapi(
    documents: Mapping[str, dict[str, Any]], *, title: str, version: str, description: str = ""
) -> dict[str, Any]:
    """One OpenAPI 3.1 document for all services, as a client sees them through the gateway.

    ``documents`` maps the path prefix the gateway routes a service by (``"/payment"``; ``""`` for
    paths exposed unprefixed) to that service's OpenAPI 3.1 document; a service that is absent
    simply has no paths in the result. The result is the same whatever the order of ``documents``,
    and shares no mutable part with them, which are left unchanged. A service's name, used below,
    is its prefix without slashes (``payment``; ``a_b`` for ``/a/b``; :data:`ROOT_SERVICE` for
    ``""``); a new name that is already taken gets ``_2``, ``_3``… appended.

    - Paths are prefixed; the ``servers`` of services, paths and operations are dropped, since they
      name the services themselves: the one server is the gateway, ``/``.
    - An operationId used by several services becomes ``<service>_<operationId>`` in each of them.
    - Each service gets a tag named after it, described by its title and description, and its own
      tags become ``"<service>: <tag>"``; ``x-tagGroups`` groups them per service.
    - A component name used by several services with different content becomes
      ``<service>.<name>`` in each of them; identical content (after its own ``$ref``\\s are
      rewritten) is kept once. Every ``$ref``, ``operationRef``, discriminator mapping and link
      ``operationId`` is rewritten to match.
    - Security schemes that carry an access token (HTTP bearer, OAuth 2.0, OpenID Connect) become
      the one :data:`BEARER_SCHEME`, keeping each operation's scopes; operations inherit their
      service's top-level ``security``. Other schemes are components like any other.

    Raises ValueError for a key that is not a path prefix, a document that is not OpenAPI 3.1, or
    two documents that claim the same public path.
    """
    services = _services(documents)
    _name_operations(services)
    _name_webhooks(services)
    groups, split = _name_components(services)
    info: dict[str, Any] = {"title": title}
    if description:
        info["description"] = description
    info["version"] = version
    tags = {service.name: service.tag_objects() for service in services}
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": info,
        "servers": [{"url": "/"}],
        "tags": [tag for service_tags in tags.values() for tag in service_tags],
        "x-tagGroups": [
            {"name": service.title, "tags": [tag["name"] for tag in tags[service.name]]} for service in services
        ],
        "paths": _merged_paths(services),
    }
    webhooks = {
        service.webhook_names[name]: service.path_item(item, default_tags=[service.name])
        for service in services
        for name, item in service.document.get("webhooks", {}).items()
    }
    if webhooks:
        merged["webhooks"] = dict(sorted(webhooks.items()))
    merged["components"] = _merged_components(groups, split)
    return merged


@dataclass
class _Service:
    """One input document, and what its names become in the merged document."""

    prefix: str
    name: str
    document: Mapping[str, Any]
    token_schemes: frozenset[str]
    operation_ids: dict[str, str] = field(default_factory=dict)
    webhook_names: dict[str, str] = field(default_factory=dict)
    component_names: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.document.get("info", {}).get("title") or self.name)

    def components(self, kind: str) -> Mapping[str, Any]:
        components: Mapping[str, Any] = self.document.get("components", {}).get(kind, {})
        return components

    def operations(self) -> Iterator[Mapping[str, Any]]:
        """The operations of its paths and webhooks (those a client calls or is called by)."""
        for items in (self.document.get("paths", {}), self.document.get("webhooks", {})):
            for item in items.values():
                for method, operation in item.items():
                    if method in _METHODS and isinstance(operation, Mapping):
                        yield operation

    def tag(self, name: str) -> str:
        return f"{self.name}: {name}"

    def tag_objects(self) -> list[dict[str, Any]]:
        """Its own tag, first, then each of its tags prefixed: declared ones, then undeclared ones."""
        about = self.document.get("info", {}).get("description")
        own = {
            "name": self.name,
            "description": f"**{self.title}**: {about}" if about else f"**{self.title}**",
            "x-displayName": self.title,
        }
        declared = [
            t for t in self.document.get("tags", []) if isinstance(t, Mapping) and isinstance(t.get("name"), str)
        ]
        known = {t["name"] for t in declared}
        used = dict.fromkeys(t for op in self.operations() for t in op.get("tags", []) if t not in known)
        return [
            own,
            *({**self.node(t), "name": self.tag(t["name"])} for t in declared),
            *({"name": self.tag(name)} for name in used),
        ]

    # --- rewriting: each returns a fresh structure and leaves its input unchanged ---

    def component(self, kind: str, name: str) -> Any:
        content = self.components(kind)[name]
        if kind == "callbacks":
            return self.callback(content)
        if kind == "pathItems":
            return self.path_item(content, default_tags=[])
        if kind == "links":
            return self.link(content)
        return self.node(content)

    def path_item(self, item: Mapping[str, Any], *, default_tags: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in item.items():
            if key in _METHODS and isinstance(value, Mapping):
                out[key] = self.operation(value, default_tags=default_tags)
            elif key != "servers":
                out[key] = self.node(value)
        return out

    def operation(self, operation: Mapping[str, Any], *, default_tags: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in operation.items():
            if key == "operationId" and isinstance(value, str):
                out[key] = self.operation_ids.get(value, value)
            elif key == "tags" and isinstance(value, list):
                out[key] = [self.tag(tag) for tag in value]
            elif key == "security" and isinstance(value, list):
                out[key] = self.security(value)
            elif key == "callbacks" and isinstance(value, Mapping):
                out[key] = {name: self.callback(callback) for name, callback in value.items()}
            elif key != "servers":
                out[key] = self.node(value)
        inherited = self.document.get("security")
        if "security" not in operation and isinstance(inherited, list):
            out["security"] = self.security(inherited)
        if not out.get("tags") and default_tags:
            out["tags"] = list(default_tags)
        return out

    def callback(self, callback: Any) -> Any:
        if not isinstance(callback, Mapping) or "$ref" in callback:
            return self.node(callback)
        return {
            expression: self.path_item(item, default_tags=[])
            if isinstance(item, Mapping) and not expression.startswith("x-")
            else self.node(item)
            for expression, item in callback.items()
        }

    def security(self, requirements: list[Any]) -> list[dict[str, list[Any]]]:
        """Requirements naming the merged schemes; token schemes become the one bearer scheme."""
        out: list[dict[str, list[Any]]] = []
        for requirement in requirements:
            if not isinstance(requirement, Mapping):
                continue
            rewritten: dict[str, list[Any]] = {}
            for scheme, scopes in requirement.items():
                name = self.component_names.get(("securitySchemes", str(scheme)), str(scheme))
                merged = rewritten.setdefault(name, [])
                merged.extend(scope for scope in scopes if scope not in merged)
            if rewritten not in out:
                out.append(rewritten)
        return out

    def link(self, link: Any) -> Any:
        out = self.node(link)
        if isinstance(out, dict) and isinstance(out.get("operationId"), str):
            out["operationId"] = self.operation_ids.get(out["operationId"], out["operationId"])
        return out

    def node(self, value: Any) -> Any:
        """A copy of any part of the document with its references rewritten, however deep."""
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key in ("$ref", "operationRef") and isinstance(item, str):
                    out[key] = self.ref(item)
                elif key == "discriminator" and isinstance(item, Mapping):
                    out[key] = self.discriminator(item)
                elif key == "links" and isinstance(item, Mapping):
                    out[key] = {name: self.link(link) for name, link in item.items()}
                else:
                    out[key] = self.node(item)
            return out
        if isinstance(value, list | tuple):
            return [self.node(item) for item in value]
        return value

    def discriminator(self, discriminator: Mapping[str, Any]) -> dict[str, Any]:
        out = self.node({key: value for key, value in discriminator.items() if key != "mapping"})
        mapping = discriminator.get("mapping")
        if isinstance(mapping, Mapping):
            out["mapping"] = {key: self.schema_reference(target) for key, target in mapping.items()}
        return dict(out)

    def schema_reference(self, target: Any) -> Any:
        """A discriminator mapping's target: a reference, or the bare name of a schema."""
        if not isinstance(target, str):
            return target
        if target.startswith("#"):
            return self.ref(target)
        return self.component_names.get(("schemas", target), target)

    def ref(self, ref: str) -> str:
        """A local reference into this document, pointing at the same thing in the merged one."""
        if not ref.startswith("#/"):
            return ref
        parts = ref[2:].split("/")
        if parts[0] == "components" and len(parts) >= 3:
            name = self.component_names.get((parts[1], _unescape(parts[2])))
            if name is not None:
                parts[2] = _escape(name)
        elif parts[0] == "paths" and len(parts) >= 2:
            parts[1] = _escape(self.prefix + _unescape(parts[1]))
        elif parts[0] == "webhooks" and len(parts) >= 2:
            webhook = _unescape(parts[1])
            parts[1] = _escape(self.webhook_names.get(webhook, webhook))
        return "#/" + "/".join(parts)


def _services(documents: Mapping[str, Mapping[str, Any]]) -> list[_Service]:
    services: list[_Service] = []
    names: dict[str, str] = {}
    for prefix in sorted(documents):
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(f"not a path prefix: {prefix!r} (expected '' or '/name', without a trailing slash)")
        document = documents[prefix]
        if not str(document.get("openapi", "")).startswith("3.1."):
            raise ValueError(f"the document for {prefix!r} is not OpenAPI 3.1: {document.get('openapi')!r}")
        name = prefix[1:].replace("/", "_") if prefix else ROOT_SERVICE
        if name in names:
            raise ValueError(f"prefixes {names[name]!r} and {prefix!r} both name the service {name!r}")
        names[name] = prefix
        schemes = document.get("components", {}).get("securitySchemes", {})
        tokens = frozenset(scheme for scheme, definition in schemes.items() if _carries_token(definition))
        services.append(_Service(prefix, name, document, tokens))
    return services


def _carries_token(scheme: Any) -> bool:
    if not isinstance(scheme, Mapping):
        return False
    kind = scheme.get("type")
    return kind in ("oauth2", "openIdConnect") or (kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer")


def _name_operations(services: list[_Service]) -> None:
    owners: dict[str, list[_Service]] = {}
    for service in services:
        ids = (operation.get("operationId") for operation in service.operations())
        for operation_id in dict.fromkeys(i for i in ids if isinstance(i, str)):
            owners.setdefault(operation_id, []).append(service)
    taken = {operation_id for operation_id, owning in owners.items() if len(owning) == 1}
    for operation_id, owning in sorted(owners.items()):
        for service in owning:
            service.operation_ids[operation_id] = (
                operation_id if len(owning) == 1 else _fresh(f"{service.name}_{operation_id}", taken)
            )


def _name_webhooks(services: list[_Service]) -> None:
    owners: dict[str, list[_Service]] = {}
    for service in services:
        for name in service.document.get("webhooks", {}):
            owners.setdefault(name, []).append(service)
    taken = {name for name, owning in owners.items() if len(owning) == 1}
    for name, owning in sorted(owners.items()):
        for service in owning:
            service.webhook_names[name] = name if len(owning) == 1 else _fresh(f"{service.name}.{name}", taken)


_Groups = dict[tuple[str, str], list[_Service]]


def _name_components(services: list[_Service]) -> tuple[_Groups, set[tuple[str, str]]]:
    """Group the components by kind and name; split (namespace) the groups whose content differs.

    Content is compared after rewriting, so two schemas that read the same but refer to schemas that
    differ are split too; splitting one group can change the content of others, hence the loop. It
    ends because groups are only ever split, never joined.
    """
    groups: _Groups = {}
    for service in services:
        for token_scheme in service.token_schemes:
            service.component_names["securitySchemes", token_scheme] = BEARER_SCHEME
        for kind in _COMPONENT_KINDS:
            for name in service.components(kind):
                if not (kind == "securitySchemes" and name in service.token_schemes):
                    groups.setdefault((kind, name), []).append(service)
    split = {("securitySchemes", BEARER_SCHEME)} & groups.keys()
    while True:
        _assign_component_names(groups, split)
        diverged = {
            key
            for key, owners in groups.items()
            if key not in split and any(owner.component(*key) != owners[0].component(*key) for owner in owners[1:])
        }
        if not diverged:
            return groups, split
        split |= diverged


def _assign_component_names(groups: _Groups, split: set[tuple[str, str]]) -> None:
    """Shared groups keep their name; each member of a split group gets a new, unique one."""
    taken: dict[str, set[str]] = {kind: set() for kind in _COMPONENT_KINDS}
    taken["securitySchemes"].add(BEARER_SCHEME)
    for (kind, name), owners in groups.items():
        if (kind, name) not in split:
            taken[kind].add(name)
            for owner in owners:
                owner.component_names[kind, name] = name
    for kind, name in sorted(split):
        for owner in groups[kind, name]:
            owner.component_names[kind, name] = _fresh(f"{owner.name}.{name}", taken[kind])


def _merged_components(groups: _Groups, split: set[tuple[str, str]]) -> dict[str, Any]:
    components: dict[str, dict[str, Any]] = {kind: {} for kind in _COMPONENT_KINDS}
    components["securitySchemes"][BEARER_SCHEME] = dict(_BEARER_SCHEME_OBJECT)
    for (kind, name), owners in groups.items():
        for owner in owners if (kind, name) in split else owners[:1]:
            components[kind][owner.component_names[kind, name]] = owner.component(kind, name)
    return {kind: dict(sorted(named.items())) for kind, named in components.items() if named}


def _merged_paths(services: list[_Service]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for service in services:
        for path, item in service.document.get("paths", {}).items():
            public = service.prefix + path
            if public in paths:
                raise ValueError(f"{public!r} is claimed by both {owner[public]!r} and {service.name!r}")
            owner[public] = service.name
            paths[public] = service.path_item(item, default_tags=[service.name])
    return paths


def _fresh(candidate: str, taken: set[str]) -> str:
    """`candidate`, or the first of ``candidate_2``, ``candidate_3``… not yet taken; now taken."""
    name, number = candidate, 1
    while name in taken:
        number += 1
        name = f"{candidate}_{number}"
    taken.add(name)
    return name


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
