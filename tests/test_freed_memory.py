"""Freed memory is handed back once the resident memory grew enough."""

import pytest

from captum_contrastive import freed_memory


def test_freed_memory_is_returned_after_the_resident_memory_grew(monkeypatch) -> None:
    if freed_memory._malloc_trim() is None:
        pytest.skip("not glibc: nothing to return")
    trims: list[int] = []
    resident = [2**30]
    monkeypatch.setattr(freed_memory, "_malloc_trim", lambda: trims.append)
    monkeypatch.setattr(freed_memory, "resident_bytes", lambda: resident[0])
    monkeypatch.setattr(freed_memory, "_after_last_trim", [])
    assert freed_memory.return_freed_memory()  # the first call sets the level
    resident[0] += freed_memory.TRIM_GROWTH_BYTES // 2
    assert not freed_memory.return_freed_memory()
    resident[0] += freed_memory.TRIM_GROWTH_BYTES
    assert freed_memory.return_freed_memory() and trims == [0, 0]
    assert freed_memory._after_last_trim == [resident[0]]
