"""The sample resource: an in-memory list per task (a real service keeps it in a database)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any


class StoreFull(Exception):
    """The bounded sample store refuses more items rather than grow without limit."""


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    quantity: int
    owner: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ItemStore:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: dict[str, Item] = {}

    def add(self, name: str, quantity: int, owner: str) -> Item:
        if len(self._items) >= self._capacity:
            raise StoreFull(self._capacity)
        item = Item(id=uuid.uuid4().hex, name=name, quantity=quantity, owner=owner)
        self._items[item.id] = item
        return item

    def get(self, item_id: str, owner: str) -> Item | None:
        """The item if `owner` holds it; another owner's item is as absent as a missing one."""
        item = self._items.get(item_id)
        return item if item is not None and item.owner == owner else None

    def owned_by(self, owner: str) -> list[Item]:
        return [item for item in self._items.values() if item.owner == owner]
