"""api-service's HTTP interface: thin handlers over the key cache and the item store."""

# No `from __future__ import annotations` here: FastAPI must see the real `Caller` type, which
# is local to build_app and so cannot be resolved from a string annotation later.
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field
from service_kit.app import create_service_app
from service_kit.bearer import bearer_guard, key_cache_for, key_source_for
from service_kit.config import Identity, load_config
from service_kit.errors import ServiceError
from service_kit.key_sources import KeySource

from api_service.config import ApiConfig
from api_service.items import ItemStore, StoreFull


class NewItem(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    quantity: int = Field(default=1, ge=0, le=1_000_000)


def build_app(config: ApiConfig, identity: Identity, key_source: KeySource) -> FastAPI:
    keys = key_cache_for(config, key_source)
    store = ItemStore(config.max_items)

    async def health_checks() -> dict[str, bool]:
        # Cheap on the 5 s health-check path: reads the key source only when the set is stale.
        await keys.refresh_if_due()
        return {"signing_keys": keys.is_fresh()}

    app = create_service_app(identity, config, health_checks)

    Caller = Annotated[str, Depends(bearer_guard(keys, config, realm="api-service"))]

    @app.get("/items")
    async def list_items(owner: Caller) -> dict[str, Any]:
        return {"items": [item.as_dict() for item in store.owned_by(owner)]}

    @app.post("/items", status_code=201)
    async def create_item(new: NewItem, owner: Caller) -> dict[str, Any]:
        try:
            return store.add(new.name, new.quantity, owner).as_dict()
        except StoreFull:
            raise ServiceError(507, "store_full", "the sample store is full") from None

    @app.get("/items/{item_id}")
    async def get_item(item_id: str, owner: Caller) -> dict[str, Any]:
        item = store.get(item_id, owner)
        if item is None:
            # The same answer whether the item is missing or another client's: no existence leak.
            raise ServiceError(404, "not_found", "no such item")
        return item.as_dict()

    return app


def create_app() -> FastAPI:
    """Factory uvicorn calls (service_kit.serve): reads the environment the task injects."""
    config = load_config(ApiConfig)
    return build_app(
        config=config,
        identity=Identity.from_env("api-service"),
        key_source=key_source_for(config),
    )
