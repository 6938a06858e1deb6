"""The committed contracts (event schemas, AsyncAPI, OpenAPI) are what the code generates."""

import yaml

from contracts.events.base import EVENT_TYPES
from tools.contracts import CONTRACTS, asyncapi_document, drift


def test_committed_contracts_match_the_code() -> None:
    assert drift() == [], "run `make contracts` and commit the result"


def test_asyncapi_lists_every_event_on_its_topic() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {model.topic for model in EVENT_TYPES.values()} <= addresses
    assert yaml.safe_load((CONTRACTS / "asyncapi.yaml").read_text()) == document


def test_every_event_type_follows_the_naming_rule() -> None:
    for event_type, model in EVENT_TYPES.items():
        service, aggregate = model.topic.split(".")
        assert event_type.startswith(f"de.basisdienste.{service}.{aggregate}.")
        assert event_type.rsplit(".", 1)[1].startswith("v")
