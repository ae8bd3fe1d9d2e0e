"""An indexed ListObjectsV2 for the embedded demo's fake S3.

moto's `S3Backend.list_objects_v2` walks every key of the bucket and sorts all
matches on every call, so one page of a 100,000-object folder costs what
listing the whole bucket costs.  Real S3 does not behave like that, and the
demo should not either: `install(backend)` binds, on that one backend instance
only, a `list_objects_v2` that keeps a sorted list of key names per bucket and
answers a page in O(log n + page size).  moto's class is left alone, so tests
that use `mock_aws` (or any other backend instance) still run moto's own code.

What a page holds is exactly what moto's own method returns, quirks included:

* items are `FakeKey`s (the latest version of each key) and folder names (str)
  in one lexicographic order; a key whose latest version is a delete marker is
  left out, *but it still makes its folder show up* as a common prefix;
* `StartAfter` and continuation tokens keep only items whose own name (a key's
  name, or a folder's name) sorts after the marker, so a folder that starts at
  or before the marker is skipped entirely even when keys inside it sort after;
* continuation tokens come from moto's own `_truncate_result` (the md5 of the
  page's last name, remembered in `_pagination_tokens`), so tokens from either
  method work with the other; a token moto never issued, a negative MaxKeys and
  S3 Tables buckets are handed to moto's own method, errors and all.

The sorted names are kept up to date by giving each indexed bucket's key store
(moto's `_VersionedKeyStore`, a dict) a subclass of its class that notes which
names appear and disappear; the list is brought up to date lazily, on the next
listing, and rebuilt from the dict if the count of names ever disagrees.
"""

from __future__ import annotations

import bisect
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

from moto.s3.models import FakeBucket, FakeDeleteMarker, FakeKey, FakeTableStorageBucket, S3Backend
from moto.s3.utils import _VersionedKeyStore

__all__ = ["install", "installed", "uninstall"]

_INSTALLED_FLAG = "_sharedesk_indexed_listing"
#: Up to this many names changed since the last listing are patched in one by one;
#: more are merged in with one sort of two sorted runs.
_INCREMENTAL = 32


# --- the index of one bucket ---------------------------------------------------


class _Index:
    """The sorted key names of one key store, and what changed since they were sorted."""

    def __init__(self, store: _VersionedKeyStore) -> None:
        self.lock = threading.RLock()
        self.store_ref = weakref.ref(store)
        self.names: list[str] = []
        self.added: set[str] = set()  # in the store, not yet in `names`
        self.removed: set[str] = set()  # in `names`, no longer in the store
        self.stale = True  # rebuild `names` from the store on the next listing

    def note_added(self, name: str) -> None:
        if self.stale:
            return
        if name in self.removed:
            self.removed.discard(name)
        else:
            self.added.add(name)

    def note_removed(self, name: str) -> None:
        if self.stale:
            return
        if name in self.added:
            self.added.discard(name)
        else:
            self.removed.add(name)

    def sorted_names(self, store: _VersionedKeyStore) -> list[str]:
        """The store's names in order; call with `lock` held and keep holding it while reading them."""
        if not self.stale and (self.added or self.removed):
            if len(self.added) + len(self.removed) <= _INCREMENTAL:
                names = self.names
                for name in self.removed:
                    at = bisect.bisect_left(names, name)
                    if at < len(names) and names[at] == name:
                        del names[at]
                    else:
                        self.stale = True
                for name in self.added:
                    bisect.insort(names, name)
            else:
                names = [n for n in self.names if n not in self.removed] if self.removed else self.names
                names.extend(sorted(self.added))
                names.sort()  # two sorted runs: timsort merges them in linear time
                self.names = names
            self.added.clear()
            self.removed.clear()
        if not self.stale and len(self.names) != dict.__len__(store):
            self.stale = True  # changed behind the hooks' back (e.g. dict.__setitem__ called directly)
        if self.stale:
            self.names = sorted(dict.keys(store))
            self.added.clear()
            self.removed.clear()
            self.stale = False
        return self.names


_INDEXES: dict[int, _Index] = {}
_REGISTRY_LOCK = threading.RLock()  # re-entrant: a finalizer may run on this thread mid-registration


def _registered(store: Any) -> _Index | None:
    index = _INDEXES.get(id(store))
    if index is not None and index.store_ref() is store:
        return index
    return None


class _IndexedKeyStore(_VersionedKeyStore):
    """moto's key store, telling its bucket's index which names come and go.

    Only the stores of an installed backend's buckets get this class (by
    assigning `__class__` on the instance); it behaves exactly as its base.
    """

    def __setitem__(self, key: str, value: Any) -> Any:
        index = _registered(self)
        if index is None:
            return super().__setitem__(key, value)
        with index.lock:
            new = not dict.__contains__(self, key)
            result = super().__setitem__(key, value)
            if new:
                index.note_added(key)
            return result

    def setlist(self, key: Any, list_: Any) -> Any:
        index = _registered(self)
        if index is None:
            return super().setlist(key, list_)
        with index.lock:
            new = not dict.__contains__(self, key)
            result = super().setlist(key, list_)
            if new:
                index.note_added(key)
            return result

    def pop(self, key: str) -> None:  # type: ignore[override]  # moto's signature
        index = _registered(self)
        if index is None:
            return super().pop(key)
        with index.lock:
            present = dict.__contains__(self, key)
            result = super().pop(key)
            if present:
                index.note_removed(key)
            return result

    def __delitem__(self, key: str) -> None:
        index = _registered(self)
        if index is None:
            return super().__delitem__(key)
        with index.lock:
            super().__delitem__(key)
            index.note_removed(key)

    # Rarely used dict methods that bypass the ones above: the index is rebuilt after them.
    def _rebuild_after(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        index = _registered(self)
        if index is None:
            return method(self, *args, **kwargs)
        with index.lock:
            try:
                return method(self, *args, **kwargs)
            finally:
                index.stale = True

    def popitem(self) -> Any:
        return self._rebuild_after(_VersionedKeyStore.popitem)

    def clear(self) -> None:
        self._rebuild_after(_VersionedKeyStore.clear)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._rebuild_after(_VersionedKeyStore.update, *args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return self._rebuild_after(_VersionedKeyStore.setdefault, key, default)

    def __ior__(self, other: Any) -> Any:  # type: ignore[override,misc]
        return self._rebuild_after(_VersionedKeyStore.__ior__, other)


def _index_of(store: Any) -> _Index | None:
    """The index of a key store, made (and the store's class switched) on first use."""
    index = _registered(store)
    if index is not None:
        return index
    if type(store) not in (_VersionedKeyStore, _IndexedKeyStore):
        return None  # a store this module does not know: leave it to moto
    with _REGISTRY_LOCK:
        index = _registered(store)
        if index is None:
            index = _Index(store)
            key = id(store)
            _INDEXES[key] = index
            weakref.finalize(store, _forget, key, index)
            store.__class__ = _IndexedKeyStore
        return index


def _forget(key: int, index: _Index) -> None:
    with _REGISTRY_LOCK:
        if _INDEXES.get(key) is index:
            del _INDEXES[key]


# --- one page ------------------------------------------------------------------


def _past(prefix: str) -> str | None:
    """The least string greater than every string that starts with `prefix` (None: no such string)."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)


def _page(store: _VersionedKeyStore, names: list[str], prefix: str, delimiter: str, marker: str | None, want: int) -> list[FakeKey | str]:
    """Up to `want` items after `marker`, in moto's order: latest FakeKeys and folder names."""
    items: list[FakeKey | str] = []
    end = len(names)
    at = bisect.bisect_left(names, prefix) if prefix else 0
    if marker is not None:
        at = max(at, bisect.bisect_right(names, marker))
    start, width = len(prefix), len(delimiter)
    while at < end and len(items) < want:
        name = names[at]
        if not name.startswith(prefix):
            break  # names with the prefix are contiguous: this one is past them all
        if delimiter:
            cut = name.find(delimiter, start)
            if cut >= 0:
                folder = name[: cut + width]
                # moto compares the folder's own name with the marker, not the keys inside it.
                if marker is None or folder > marker:
                    items.append(folder)
                past = _past(folder)
                at = end if past is None else bisect.bisect_left(names, past, at + 1)
                continue
        versions = dict.get(store, name)
        # moto lists the latest version unless it is a delete marker (but its folder still shows).
        if versions and not isinstance(versions[-1], FakeDeleteMarker):
            items.append(versions[-1])
        at += 1
    return items


def _indexed_list_objects_v2(
    self: S3Backend,
    bucket: FakeBucket,
    prefix: str | None,
    delimiter: str | None,
    continuation_token: str | None,
    start_after: str | None,
    max_keys: int,
) -> tuple[list[FakeKey | str], bool, str | None]:
    """moto's `S3Backend.list_objects_v2`, answered from the bucket's sorted names."""

    def moto_own() -> Any:
        return type(self).list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys)

    if isinstance(bucket, FakeTableStorageBucket) or not isinstance(max_keys, int) or max_keys < 0:
        return moto_own()  # moto's errors (or moto's oddities) exactly
    marker: str | None = None
    if continuation_token or start_after:
        marker = self._pagination_tokens.get(continuation_token) if continuation_token else start_after  # type: ignore[arg-type]
        if marker is None:
            return moto_own()  # a token moto never issued
    index = _index_of(bucket.keys)
    if index is None:
        return moto_own()
    if max_keys == 0:
        return self._truncate_result([], max_keys)  # type: ignore[no-any-return]
    with index.lock:
        names = index.sorted_names(bucket.keys)
        items = _page(bucket.keys, names, prefix or "", delimiter or "", marker, max_keys + 1)
    return self._truncate_result(items, max_keys)  # type: ignore[no-any-return]


# --- installing ----------------------------------------------------------------


def install(backend: S3Backend) -> None:
    """Answer `backend`'s ListObjectsV2 from sorted indexes; this instance only, idempotent.

    moto's `reset()` empties the instance, which uninstalls this too: call it
    again after seeding a reset backend.
    """
    if backend.__dict__.get(_INSTALLED_FLAG):
        return
    for bucket in list(backend.buckets.values()):
        _index_of(bucket.keys)  # switch the seeded stores now; later buckets on first listing
    backend.list_objects_v2 = types.MethodType(_indexed_list_objects_v2, backend)  # type: ignore[method-assign]
    backend.__dict__[_INSTALLED_FLAG] = True


def installed(backend: S3Backend) -> bool:
    return bool(backend.__dict__.get(_INSTALLED_FLAG))


def uninstall(backend: S3Backend) -> None:
    """Give `backend` moto's own ListObjectsV2 back (indexed key stores keep working as moto's)."""
    bound = backend.__dict__.get("list_objects_v2")
    if getattr(bound, "__func__", None) is _indexed_list_objects_v2:
        del backend.__dict__["list_objects_v2"]
    backend.__dict__.pop(_INSTALLED_FLAG, None)
