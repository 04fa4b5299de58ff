"""The local blob store: content addressing, atomic writes, size limit."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hub.blobs import LocalBlobStore
from hub.errors import PayloadTooLarge


async def test_content_is_stored_under_its_sha256_once(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, max_bytes=1024)
    digest = await store.put(b"invoice.pdf bytes")
    assert digest == hashlib.sha256(b"invoice.pdf bytes").hexdigest()
    assert await store.put(b"invoice.pdf bytes") == digest
    assert await store.get(digest) == b"invoice.pdf bytes"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]
    await store.delete(digest)
    assert not store.path_for(digest).exists()


async def test_oversized_content_is_refused(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, max_bytes=10)
    with pytest.raises(PayloadTooLarge):
        await store.put(b"x" * 11)
    assert not list(tmp_path.rglob("*"))


def test_paths_cannot_escape_the_store(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, max_bytes=10)
    with pytest.raises(ValueError):
        store.path_for("../../etc/passwd")
