"""Stream backends: memory and file, plain and sparse, through virStream's helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

import pyvirt
from pyvirt.api.stream import virStream
from pyvirt.drivers.streams import FileSink, FileSource, MemorySink, MemorySource


def stream(backend: object) -> virStream:
    st = virStream(None, 0)  # type: ignore[arg-type]
    st._attach(backend)  # type: ignore[arg-type]
    return st


def test_memory_roundtrip() -> None:
    got: list[bytes] = []
    st = stream(MemorySource(b"x" * 600_000))
    st.recvAll(lambda _s, data, _o: got.append(data), None)
    st.finish()
    assert b"".join(got) == b"x" * 600_000
    done: list[bytes] = []
    sink = stream(MemorySink(done.append))
    chunks = [b"ab", b"cd"]
    sink.sendAll(lambda _s, _n, _o: chunks.pop(0) if chunks else b"", None)
    sink.finish()
    assert done == [b"abcd"]


def test_memory_sparse_holes() -> None:
    st = stream(MemorySource(b"AAAA\0\0\0\0BB", holes=[(4, 4)]))
    events: list[object] = []
    st.sparseRecvAll(lambda _s, d, _o: events.append(d),
                     lambda _s, n, _o: events.append(n), None)
    assert events == [b"AAAA", 4, b"BB"]


def test_sink_limit_and_direction() -> None:
    st = stream(MemorySink(limit=3))
    st.send(b"abc")
    with pytest.raises(pyvirt.libvirtError):
        st.send(b"d")
    with pytest.raises(pyvirt.libvirtError):
        st.recv(1)


def test_file_window_and_sparse(tmp_path: Path) -> None:
    src = tmp_path / "src.img"
    with open(src, "wb") as fh:
        fh.write(b"head")
        fh.seek(1 << 20)
        fh.write(b"tail")
    st = stream(FileSource(str(src), offset=2, length=0))
    data: list[bytes] = []
    holes: list[int] = []
    st.sparseRecvAll(lambda _s, d, _o: data.append(d), lambda _s, n, _o: holes.append(n), None)
    st.finish()
    total = sum(map(len, data)) + sum(holes)
    assert total == (1 << 20) + 4 - 2
    assert b"".join(data).startswith(b"ad") and b"".join(data).endswith(b"tail")

    dst = tmp_path / "dst.img"
    dst.write_bytes(b"")
    out = stream(FileSink(str(dst)))
    out.send(b"head")
    out.sendHole((1 << 20) - 4)
    out.send(b"tail")
    out.finish()
    assert dst.stat().st_size == (1 << 20) + 4
    body = dst.read_bytes()
    assert body[:4] == b"head" and body[-4:] == b"tail" and body[4:8] == b"\0\0\0\0"


def test_file_source_window(tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"0123456789")
    st = stream(FileSource(str(src), offset=3, length=4))
    assert st.recv(100) == b"3456"
    assert st.recv(100) == b""
    st.abort()
