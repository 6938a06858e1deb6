"""The gateway's merged OpenAPI document (gateway.openapi) and its self-hosted docs UI (gateway.docs_ui)."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from gateway.docs_ui import docs_router
from gateway.openapi import BEARER_SCHEME, ROOT_SERVICE, merge_openapi

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "openapi"
SERVICES = ("identity", "catalogue", "mailbox", "payment", "routing")
PROBLEM_SCHEMAS = ("Problem", "ValidationProblem", "ProblemFieldError")
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
TOKEN_SCHEME_TYPES = {"oauth2", "openIdConnect"}


def committed_documents() -> dict[str, dict[str, Any]]:
    return {f"/{name}": json.loads((CONTRACTS / f"{name}.json").read_text()) for name in SERVICES}


def merge(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return merge_openapi(documents, title="Basisdienste API", version="1.0.0", description="All services.")


# --- synthetic documents: colliding names, nested references, every kind of security ----------------


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def json_response(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def shop_document() -> dict[str, Any]:
    """Token scheme OpenID Connect, inherited from the top level; colliding and shared components."""
    problem = json.loads((CONTRACTS / "payment.json").read_text())["components"]["schemas"]["Problem"]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Shop", "description": "Sells things.", "version": "2.0.0"},
        "servers": [{"url": "http://127.0.0.1:9001"}],
        "security": [{"oidc": ["shop:read"]}],
        "tags": [{"name": "items", "description": "Things for sale."}],
        "paths": {
            "/items": {
                "servers": [{"url": "http://127.0.0.1:9001/direct"}],
                "parameters": [ref("parameters", "Limit")],
                "get": {
                    "tags": ["items"],
                    "summary": "List items",
                    "operationId": "list_items",
                    "responses": {
                        "200": ref("responses", "ItemPage"),
                        "default": json_response(ref("schemas", "Problem"), "Problem"),
                    },
                },
                "post": {
                    "tags": ["items", "admin"],
                    "summary": "Create an item",
                    "operationId": "create_item",
                    "security": [{"oidc": ["shop:write"]}, {"oidc": ["shop:admin"]}],
                    "requestBody": ref("requestBodies", "NewItem"),
                    "responses": {
                        "201": {
                            "description": "Created",
                            "headers": {"Location": ref("headers", "Location")},
                            "content": {"application/json": {"schema": ref("schemas", "Item")}},
                            "links": {"self": ref("links", "ItemList")},
                        }
                    },
                    "callbacks": {
                        "sold": {
                            "{$request.body#/callback}": {
                                "post": {
                                    "requestBody": {
                                        "content": {"application/json": {"schema": ref("schemas", "Item")}}
                                    },
                                    "responses": {"204": {"description": "Received"}},
                                }
                            }
                        }
                    },
                },
            },
            "/items/{id}": {
                "get": {
                    "summary": "Read an item",
                    "operationId": "read_item",
                    "security": [],
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {"$ref": "#/paths/~1items/get/responses/200"},
                        "404": json_response(ref("schemas", "Problem"), "Not found"),
                    },
                }
            },
        },
        "webhooks": {
            "itemSold": {
                "post": {
                    "operationId": "item_sold",
                    "requestBody": {"content": {"application/json": {"schema": ref("schemas", "Item")}}},
                    "responses": {"200": {"description": "Received"}},
                }
            }
        },
        "components": {
            "schemas": {
                "Problem": problem,
                "Money": {
                    "type": "object",
                    "properties": {"cents": {"type": "integer"}, "currency": {"type": "string"}},
                },
                "Item": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "price": ref("schemas", "Money")},
                    "required": ["name"],
                },
                "Page": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": ref("schemas", "Item")},
                        "next": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    },
                },
                "Pet": {
                    "oneOf": [ref("schemas", "Cat"), ref("schemas", "Dog")],
                    "discriminator": {
                        "propertyName": "kind",
                        "mapping": {"cat": "#/components/schemas/Cat", "dog": "Dog"},
                    },
                },
                "Cat": {"type": "object", "properties": {"kind": {"const": "cat"}}},
                "Dog": {"type": "object", "properties": {"kind": {"const": "dog"}, "barks": {"type": "boolean"}}},
            },
            "responses": {"ItemPage": json_response(ref("schemas", "Page"), "A page of items")},
            "parameters": {
                "Limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
            },
            "requestBodies": {
                "NewItem": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": ref("schemas", "Item"),
                            "examples": {"cheap": ref("examples", "Cheap")},
                        }
                    },
                }
            },
            "headers": {"Location": {"schema": {"type": "string"}}},
            "examples": {"Cheap": {"value": {"name": "pen", "price": {"cents": 100, "currency": "EUR"}}}},
            "links": {"ItemList": {"operationId": "list_items"}},
            "securitySchemes": {
                "oidc": {"type": "openIdConnect", "openIdConnectUrl": "/.well-known/openid-configuration"}
            },
        },
    }


def orders_document() -> dict[str, Any]:
    """HTTP bearer and an API key scheme; colliding operationIds and differing ``Item``."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Orders", "version": "1.0.0"},
        "paths": {
            "/items": {
                "get": {
                    "summary": "List ordered items",
                    "operationId": "list_items",
                    "security": [{"bearerAuth": ["orders:read"]}],
                    "responses": {
                        "200": json_response(ref("schemas", "Page")),
                        "400": json_response(ref("schemas", "Problem"), "Bad request"),
                    },
                },
            },
            "/import": {
                "post": {
                    "tags": ["admin"],
                    "summary": "Import orders",
                    "operationId": "import_orders",
                    "security": [{"partnerKey": []}, {"bearerAuth": ["orders:import"], "oauth": ["orders:admin"]}],
                    "responses": {"204": {"description": "Imported"}, "400": ref("responses", "ItemPage")},
                }
            },
        },
        "webhooks": {
            "itemSold": {
                "post": {
                    "operationId": "order_item_sold",
                    "requestBody": {"content": {"application/json": {"schema": ref("schemas", "Item")}}},
                    "responses": {"200": {"description": "Received"}},
                }
            }
        },
        "components": {
            "schemas": {
                "Problem": json.loads((CONTRACTS / "payment.json").read_text())["components"]["schemas"]["Problem"],
                "Money": {
                    "type": "object",
                    "properties": {"cents": {"type": "integer"}, "currency": {"type": "string"}},
                },
                "Item": {
                    "type": "object",
                    "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
                    "additionalProperties": {"$ref": "#/components/schemas/Money"},
                },
                "Page": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": ref("schemas", "Item")},
                        "next": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    },
                },
                "Cat": {"type": "object", "properties": {"purrs": {"type": "boolean"}}},
                "Dog": {"type": "string", "enum": ["dog"]},
            },
            "responses": {"ItemPage": json_response(ref("schemas", "Page"), "A page of items")},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "oauth": {
                    "type": "oauth2",
                    "flows": {"clientCredentials": {"tokenUrl": "/identity/token", "scopes": {"orders:admin": "All"}}},
                },
                "partnerKey": {"type": "apiKey", "in": "header", "name": "X-Partner-Key"},
            },
        },
    }


def root_document() -> dict[str, Any]:
    """Paths the gateway exposes unprefixed, at the places standards fix."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Standard paths", "version": "1.0.0"},
        "paths": {
            "/.well-known/openid-configuration": {
                "get": {
                    "tags": ["oidc"],
                    "summary": "OpenID Provider metadata",
                    "operationId": "list_items",
                    "responses": {"200": json_response({"type": "object"})},
                }
            }
        },
    }


def all_documents() -> dict[str, dict[str, Any]]:
    return {**committed_documents(), "/shop": shop_document(), "/orders": orders_document(), "": root_document()}


# --- helpers -----------------------------------------------------------------------------------------


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def refs(document: dict[str, Any]) -> set[str]:
    return {node["$ref"] for node in walk(document) if isinstance(node, dict) and isinstance(node.get("$ref"), str)}


def resolve(document: dict[str, Any], reference: str) -> Any:
    assert reference.startswith("#/"), reference
    node: Any = document
    for token in reference[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and token in node, f"{reference} does not resolve at {token!r}"
        node = node[token]
    return node


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for section in ("paths", "webhooks"):
        for path, item in document.get(section, {}).items():
            for method, operation in item.items():
                if method in METHODS:
                    yield path, method, operation


def operation_ids(document: dict[str, Any]) -> list[str]:
    return [operation["operationId"] for _, _, operation in operations(document) if "operationId" in operation]


def mutable_ids(node: Any) -> set[int]:
    return {id(part) for part in walk(node) if isinstance(part, dict | list)}


def expand(document: dict[str, Any], node: Any, depth: int = 4) -> Any:
    """`node` with references replaced by what they point at, down to `depth` levels: its meaning."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            return expand(document, resolve(document, node["$ref"]), depth - 1) if depth > 0 else "..."
        return {key: expand(document, value, depth) for key, value in node.items()}
    if isinstance(node, list):
        return [expand(document, item, depth) for item in node]
    return node


def is_token_scheme(document: dict[str, Any], name: str) -> bool:
    scheme = document["components"]["securitySchemes"][name]
    return scheme["type"] in TOKEN_SCHEME_TYPES or scheme.get("scheme", "").lower() == "bearer"


def assert_same_token_requirements(document: dict[str, Any], operation: dict[str, Any], merged: dict[str, Any]) -> None:
    """Whether a token is needed, and with which scopes, is the same in the merged operation."""
    source = operation.get("security", document.get("security"))
    if source is None:
        assert "security" not in merged
        return
    target = merged["security"]
    assert (source == []) == (target == [])
    needs_token = [any(is_token_scheme(document, name) for name in r) for r in source]
    assert any(needs_token) == any(BEARER_SCHEME in r for r in target)
    assert all(needs_token) == all(BEARER_SCHEME in r for r in target)
    scopes = {scope for r in source for name in r if is_token_scheme(document, name) for scope in r[name]}
    assert scopes == {scope for r in target for scope in r.get(BEARER_SCHEME, [])}


# --- the merged document -----------------------------------------------------------------------------


def test_the_committed_contracts_merge_into_a_valid_openapi_31_document() -> None:
    merged = merge(committed_documents())
    validate(merged, cls=OpenAPIV31SpecValidator)
    assert merged["openapi"] == "3.1.0"
    assert merged["info"] == {"title": "Basisdienste API", "description": "All services.", "version": "1.0.0"}
    assert merged["servers"] == [{"url": "/"}]
    for service in SERVICES:
        assert f"/{service}/health/live" in merged["paths"]
        assert f"/{service}/health/ready" in merged["paths"]


def test_the_contracts_and_synthetic_documents_merge_into_a_valid_openapi_31_document() -> None:
    merged = merge(all_documents())
    validate(merged, cls=OpenAPIV31SpecValidator)


def test_every_ref_resolves() -> None:
    merged = merge(all_documents())
    found = refs(merged)
    assert "#/components/schemas/shop.Item" in found and "#/components/schemas/Problem" in found
    for reference in found:
        resolve(merged, reference)
    for node in walk(merged):
        if isinstance(node, dict) and isinstance(node.get("discriminator"), dict):
            for target in node["discriminator"]["mapping"].values():
                resolve(merged, target if target.startswith("#") else f"#/components/schemas/{target}")


def test_the_input_documents_are_not_mutated_nor_shared() -> None:
    documents = all_documents()
    before = copy.deepcopy(documents)
    merged = merge(documents)
    assert documents == before
    assert not mutable_ids(merged) & mutable_ids(documents)


def test_paths_are_prefixed_as_routed_and_the_root_document_is_not() -> None:
    documents = all_documents()
    merged = merge(documents)
    expected = {prefix + path for prefix, document in documents.items() for path in document["paths"]}
    assert set(merged["paths"]) == expected
    assert "/.well-known/openid-configuration" in merged["paths"]
    assert "/shop/items/{id}" in merged["paths"]


def test_servers_of_services_paths_and_operations_are_dropped() -> None:
    merged = merge(all_documents())
    assert merged["servers"] == [{"url": "/"}]
    assert "servers" not in merged["paths"]["/shop/items"]
    assert all("servers" not in operation for _, _, operation in operations(merged))


def test_a_missing_service_simply_has_no_paths() -> None:
    documents = committed_documents()
    del documents["/payment"]
    merged = merge(documents)
    validate(merged, cls=OpenAPIV31SpecValidator)
    assert not any(path.startswith("/payment") for path in merged["paths"])
    assert "payment" not in {tag["name"] for tag in merged["tags"]}
    assert merge({})["paths"] == {}


def test_the_kits_problem_schemas_appear_once() -> None:
    schemas = merge(all_documents())["components"]["schemas"]
    for name in PROBLEM_SCHEMAS:
        assert name in schemas
        assert not [other for other in schemas if other.endswith(f".{name}")]
    assert {"Liveness", "Readiness"} <= set(schemas)


def test_colliding_operation_ids_get_their_service_as_prefix_and_all_are_unique() -> None:
    merged = merge(all_documents())
    ids = operation_ids(merged)
    assert len(ids) == len(set(ids))
    assert merged["paths"]["/shop/items"]["get"]["operationId"] == "shop_list_items"
    assert merged["paths"]["/orders/items"]["get"]["operationId"] == "orders_list_items"
    assert merged["paths"]["/.well-known/openid-configuration"]["get"]["operationId"] == f"{ROOT_SERVICE}_list_items"
    assert merged["paths"]["/payment/health/live"]["get"]["operationId"] == "payment_live_health_live_get"
    assert merged["paths"]["/shop/items"]["post"]["operationId"] == "create_item"
    assert merged["paths"]["/orders/import"]["post"]["operationId"] == "import_orders"


def test_links_follow_the_renamed_operation_ids() -> None:
    merged = merge(all_documents())
    assert merged["components"]["links"]["ItemList"] == {"operationId": "shop_list_items"}


def test_components_colliding_with_different_content_are_namespaced_and_identical_ones_shared() -> None:
    documents = all_documents()
    merged = merge(documents)
    schemas = merged["components"]["schemas"]
    assert "Item" not in schemas
    assert schemas["shop.Item"]["properties"]["name"] == {"type": "string"}
    assert schemas["orders.Item"]["properties"]["sku"] == {"type": "string"}
    assert schemas["Money"] == documents["/shop"]["components"]["schemas"]["Money"]
    assert not [name for name in schemas if name.endswith(".Money")]
    assert schemas["shop.Item"]["properties"]["price"] == ref("schemas", "Money")


def test_components_that_read_the_same_but_refer_to_different_ones_are_namespaced_too() -> None:
    schemas = merge(all_documents())["components"]["schemas"]
    assert "Page" not in schemas
    assert schemas["shop.Page"]["properties"]["items"]["items"] == ref("schemas", "shop.Item")
    assert schemas["orders.Page"]["properties"]["items"]["items"] == ref("schemas", "orders.Item")
    responses = merge(all_documents())["components"]["responses"]
    assert responses["shop.ItemPage"]["content"]["application/json"]["schema"] == ref("schemas", "shop.Page")
    assert responses["orders.ItemPage"]["content"]["application/json"]["schema"] == ref("schemas", "orders.Page")


def test_references_in_every_kind_of_place_are_rewritten() -> None:
    merged = merge(all_documents())
    items = merged["paths"]["/shop/items"]
    assert items["get"]["responses"]["200"] == ref("responses", "shop.ItemPage")
    sold = items["post"]["callbacks"]["sold"]["{$request.body#/callback}"]["post"]
    assert sold["requestBody"]["content"]["application/json"]["schema"] == ref("schemas", "shop.Item")
    assert merged["paths"]["/shop/items/{id}"]["get"]["responses"]["200"] == {
        "$ref": "#/paths/~1shop~1items/get/responses/200"
    }
    assert merged["components"]["schemas"]["orders.Item"]["additionalProperties"] == ref("schemas", "Money")
    pet = merged["components"]["schemas"]["Pet"]
    assert pet["oneOf"] == [ref("schemas", "shop.Cat"), ref("schemas", "shop.Dog")]
    assert pet["discriminator"] == {
        "propertyName": "kind",
        "mapping": {"cat": "#/components/schemas/shop.Cat", "dog": "shop.Dog"},
    }


def test_colliding_webhooks_are_namespaced() -> None:
    webhooks = merge(all_documents())["webhooks"]
    assert set(webhooks) == {"orders.itemSold", "shop.itemSold"}
    body = webhooks["shop.itemSold"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == ref("schemas", "shop.Item")


def test_security_is_unified_into_one_bearer_scheme() -> None:
    merged = merge(all_documents())
    schemes = merged["components"]["securitySchemes"]
    assert schemes[BEARER_SCHEME] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "OAuth 2.0 access token (RFC 9068 JWT) issued by the identity service.",
    }
    assert set(schemes) == {BEARER_SCHEME, "partnerKey"}
    assert "security" not in merged
    paths = merged["paths"]
    assert paths["/shop/items"]["get"]["security"] == [{BEARER_SCHEME: ["shop:read"]}]
    assert paths["/shop/items"]["post"]["security"] == [
        {BEARER_SCHEME: ["shop:write"]},
        {BEARER_SCHEME: ["shop:admin"]},
    ]
    assert paths["/shop/items/{id}"]["get"]["security"] == []
    assert paths["/orders/items"]["get"]["security"] == [{BEARER_SCHEME: ["orders:read"]}]
    assert paths["/orders/import"]["post"]["security"] == [
        {"partnerKey": []},
        {BEARER_SCHEME: ["orders:import", "orders:admin"]},
    ]
    assert "security" not in paths["/payment/health/live"]["get"]
    for _, _, operation in operations(merged):
        for requirement in operation.get("security", []):
            assert set(requirement) <= set(schemes)


def test_a_scheme_named_like_the_bearer_scheme_but_of_another_kind_is_namespaced() -> None:
    document = root_document()
    document["components"] = {"securitySchemes": {BEARER_SCHEME: {"type": "apiKey", "in": "query", "name": "k"}}}
    document["security"] = [{BEARER_SCHEME: []}]
    merged = merge({"/legacy": document})
    validate(merged, cls=OpenAPIV31SpecValidator)
    schemes = merged["components"]["securitySchemes"]
    assert schemes["legacy.bearerAuth"] == {"type": "apiKey", "in": "query", "name": "k"}
    assert schemes[BEARER_SCHEME]["scheme"] == "bearer"
    operation = merged["paths"]["/legacy/.well-known/openid-configuration"]["get"]
    assert operation["security"] == [{"legacy.bearerAuth": []}]


def test_each_service_gets_a_tag_and_its_own_tags_are_prefixed() -> None:
    merged = merge(all_documents())
    tags = {tag["name"]: tag for tag in merged["tags"]}
    assert tags["shop"]["description"] == "**Shop**: Sells things."
    assert tags["shop: items"] == {"name": "shop: items", "description": "Things for sale."}
    assert "shop: admin" in tags and "orders: admin" in tags
    assert tags["payment"]["x-displayName"] == "Basisdienste Payment"
    assert merged["paths"]["/shop/items"]["post"]["tags"] == ["shop: items", "shop: admin"]
    assert merged["paths"]["/shop/items/{id}"]["get"]["tags"] == ["shop"]
    assert merged["paths"]["/payment/health/live"]["get"]["tags"] == ["payment: health"]
    groups = {group["name"]: group["tags"] for group in merged["x-tagGroups"]}
    assert groups["Basisdienste Payment"] == ["payment", "payment: health"]
    assert groups["Shop"] == ["shop", "shop: items", "shop: admin"]
    used = {tag for _, _, operation in operations(merged) for tag in operation.get("tags", [])}
    assert used <= set(tags)


def test_the_result_does_not_depend_on_the_order_of_the_documents() -> None:
    documents = all_documents()
    reordered = dict(reversed(list(documents.items())))
    first = json.dumps(merge(documents))
    assert json.dumps(merge(reordered)) == first
    assert json.dumps(merge(all_documents())) == first


@pytest.mark.parametrize("prefix", ["payment", "/payment/", "/", "/pay ment", "/../x", "//payment"])
def test_a_key_that_is_not_a_path_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="not a path prefix"):
        merge({prefix: root_document()})


def test_an_openapi_30_document_is_refused() -> None:
    document = root_document()
    document["openapi"] = "3.0.3"
    with pytest.raises(ValueError, match=r"not OpenAPI 3\.1"):
        merge({"/old": document})


def test_two_documents_claiming_the_same_public_path_are_refused() -> None:
    shadow = root_document()
    shadow["paths"] = {"/shop/items": shadow["paths"]["/.well-known/openid-configuration"]}
    with pytest.raises(ValueError, match="/shop/items"):
        merge({"/shop": shop_document(), "": shadow})


# --- the same properties for generated documents -------------------------------------------------------

SCHEMA_NAMES = ("Item", "Page", "Problem", "Money")
PATHS = ("/items", "/orders", "/health")
OPERATION_IDS = ("list", "read", "health", "search")
SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "jwt": {"type": "http", "scheme": "Bearer"},
    "oauth": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/token", "scopes": {}}}},
    "oidc": {"type": "openIdConnect", "openIdConnectUrl": "/.well-known/openid-configuration"},
    "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
    "basic": {"type": "http", "scheme": "basic"},
}


def schema_strategy(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    leaves = st.one_of(
        st.sampled_from([{"type": "string"}, {"type": "integer"}, {"type": "string", "format": "uuid"}]),
        st.sampled_from([ref("schemas", name) for name in names]),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.builds(lambda child: {"type": "array", "items": child}, children),
            st.builds(lambda a, b: {"type": "object", "properties": {"a": a, "b": b}}, children, children),
            st.builds(lambda a, b: {"allOf": [a, b]}, children, children),
        ),
        max_leaves=4,
    )


@st.composite
def service_documents(draw: st.DrawFn) -> dict[str, Any]:
    names = sorted(draw(st.sets(st.sampled_from(SCHEMA_NAMES), min_size=1)))
    schemas = {
        name: {
            "type": "object",
            "properties": {"value": draw(schema_strategy(names))},
            "title": draw(st.sampled_from("xy")),
        }
        for name in names
    }
    scheme_names = sorted(draw(st.sets(st.sampled_from(sorted(SCHEMES)), max_size=3)))
    requirements = st.lists(
        st.dictionaries(st.sampled_from(scheme_names), st.lists(st.sampled_from(["a", "b"]), unique=True), max_size=2)
        if scheme_names
        else st.just({}),
        max_size=2,
    )
    paths = sorted(draw(st.sets(st.sampled_from(PATHS), min_size=1)))
    ids = draw(st.permutations(OPERATION_IDS))
    document: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "Generated", "version": "1"}, "paths": {}}
    for path, operation_id in zip(paths, ids, strict=False):
        operation: dict[str, Any] = {
            "operationId": operation_id,
            "responses": {
                "200": json_response(ref("schemas", draw(st.sampled_from(names)))),
                "400": ref("responses", "Failure"),
            },
        }
        if draw(st.booleans()):
            operation["security"] = draw(requirements)
        if draw(st.booleans()):
            operation["tags"] = [draw(st.sampled_from(["x", "y"]))]
        document["paths"][path] = {"get": operation}
    document["components"] = {
        "schemas": schemas,
        "responses": {"Failure": json_response(ref("schemas", draw(st.sampled_from(names))), "Failure")},
    }
    if scheme_names:
        document["components"]["securitySchemes"] = {name: SCHEMES[name] for name in scheme_names}
        if draw(st.booleans()):
            document["security"] = draw(requirements)
    return document


generated_documents = st.dictionaries(
    st.sampled_from(["", "/a", "/b", "/c", "/a/v2"]), service_documents(), min_size=1, max_size=4
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=generated_documents)
def test_any_services_merge_into_a_valid_document_that_means_the_same(documents: dict[str, dict[str, Any]]) -> None:
    before = copy.deepcopy(documents)
    merged = merge(documents)
    assert documents == before
    assert not mutable_ids(merged) & mutable_ids(documents)
    validate(merged, cls=OpenAPIV31SpecValidator)
    for reference in refs(merged):
        resolve(merged, reference)
    ids = operation_ids(merged)
    assert len(ids) == len(set(ids))
    for prefix, document in documents.items():
        for path, method, operation in operations(document):
            public = merged["paths"][prefix + path][method]
            assert expand(merged, public["responses"]) == expand(document, operation["responses"])
            assert_same_token_requirements(document, operation, public)


@settings(max_examples=25, deadline=None)
@given(documents=generated_documents, seed=st.integers())
def test_the_merge_of_generated_documents_is_deterministic(documents: dict[str, dict[str, Any]], seed: int) -> None:
    keys = list(documents)
    random.Random(seed).shuffle(keys)
    assert json.dumps(merge({key: documents[key] for key in keys})) == json.dumps(merge(documents))


# --- the docs UI ---------------------------------------------------------------------------------------


class PageParser(HTMLParser):
    """Every URL a page loads, and anything inline that a strict CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.openapi_url: str | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if tag == "style" or "style" in attributes or any(name.startswith("on") for name in attributes):
            self.inline.append(tag)
        if "data-openapi-url" in attributes:
            self.openapi_url = attributes["data-openapi-url"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def docs_app(**kwargs: Any) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None)
    app.include_router(docs_router(**kwargs))
    return app


def client(app: FastAPI, root_path: str = "") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, root_path=root_path), base_url="http://gateway")


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    return parser


async def test_the_docs_page_loads_every_asset_from_the_gateway_itself() -> None:
    async with client(docs_app()) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        parsed = parse(page.text)
        assert parsed.openapi_url == "/openapi.json"
        assert len(parsed.scripts) == 2
        assert any(url.endswith(".css") for url in parsed.urls)
        for url in parsed.urls:
            target = httpx.URL(url)
            assert not target.is_absolute_url and url.startswith("/docs/assets/"), url
            asset = await http.get(url)
            assert asset.status_code == 200, url
            assert asset.content
            assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert asset.headers["x-content-type-options"] == "nosniff"
            expected_type = {"js": "text/javascript", "css": "text/css", "png": "image/png"}[url.rsplit(".", 1)[1]]
            assert asset.headers["content-type"].startswith(expected_type)


async def test_the_docs_page_has_a_strict_content_security_policy_and_no_inline_code() -> None:
    async with client(docs_app()) as http:
        page = await http.get("/docs")
    policy = page.headers["content-security-policy"]
    directives = {name: sources for name, *sources in (part.split() for part in policy.split(";"))}
    assert directives["default-src"] == ["'none'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    for sources in directives.values():
        for source in sources:
            assert source in ("'self'", "'none'", "data:"), f"{source} in {policy}"
    assert page.headers["cache-control"] == "no-cache"
    parsed = parse(page.text)
    assert parsed.inline == []
    assert all(script.get("src") for script in parsed.scripts)


async def test_the_init_script_keeps_swagger_ui_from_calling_out() -> None:
    async with client(docs_app()) as http:
        page = await http.get("/docs")
        init = next(url for url in parse(page.text).urls if url.endswith("/docs-init.js"))
        script = (await http.get(init)).text
    assert "validatorUrl: null" in script
    assert "http:" not in script and "https:" not in script


async def test_an_asset_is_served_only_under_its_own_digest() -> None:
    async with client(docs_app()) as http:
        page = await http.get("/docs")
        url = next(url for url in parse(page.text).urls if url.endswith("swagger-ui-bundle.js"))
        digest = url.split("/")[-2]
        assert (await http.head(url)).status_code == 200
        assert (await http.get(url.replace(digest, "0" * len(digest)))).status_code == 404
        assert (await http.get(f"/docs/assets/{digest}/secret.py")).status_code == 404
        assert (await http.get(f"/docs/assets/{digest}/..%2Fopenapi.py")).status_code == 404


async def test_the_document_url_and_title_are_escaped_into_the_page() -> None:
    app = docs_app(openapi_url='/api/openapi.json?x="><script>', title="<b>Portal</b>")
    async with client(app) as http:
        page = (await http.get("/docs")).text
    assert len(parse(page).scripts) == 2 and "<b>" not in page
    assert "<title>&lt;b&gt;Portal&lt;/b&gt;</title>" in page
    assert parse(page).openapi_url == '/api/openapi.json?x="><script>'


async def test_behind_a_root_path_every_url_of_the_page_carries_it() -> None:
    async with client(docs_app(), root_path="/gw") as http:
        page = await http.get("/gw/docs")
        parsed = parse(page.text)
        assert parsed.openapi_url == "/gw/openapi.json"
        for url in parsed.urls:
            assert url.startswith("/gw/docs/assets/"), url
            assert (await http.get(url)).status_code == 200


def test_the_docs_routes_are_not_part_of_the_openapi_document() -> None:
    app = docs_app()
    assert not [path for path in app.openapi()["paths"] if path.startswith("/docs")]
