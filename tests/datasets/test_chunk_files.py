"""Direct whole-chunk writes give the files zarr itself writes, and zarr reads them back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec

from stemtwin.twin.datasets.chunk_files import chunk_writer

CASES = [
    # dtype, per-sample shape, codec settings
    ("float32", (16, 16), dict(cname="lz4", clevel=5, shuffle="shuffle")),
    ("float64", (3,), dict(cname="zstd", clevel=3, shuffle="bitshuffle")),
    ("uint8", (8, 8), dict(cname="lz4", clevel=5, shuffle="shuffle")),
    ("int16", (), dict(cname="blosclz", clevel=1, shuffle="noshuffle")),
]


class _NoZarrWrites:
    """A zarr array whose ``__setitem__`` fails: the direct path must not fall back to it."""

    def __init__(self, array: zarr.Array) -> None:
        self._array = array

    def __getattr__(self, name: str) -> object:
        return getattr(self._array, name)

    def __setitem__(self, key: object, value: object) -> None:
        raise AssertionError("a whole chunk went through zarr's __setitem__")


def _array(root: Path, name: str, dtype: str, shape: tuple[int, ...], codec: dict, n: int = 10, per_chunk: int = 4) -> zarr.Array:
    group = zarr.open_group(str(root), mode="a", zarr_format=3)
    return group.create_array(name, shape=(n, *shape), chunks=(per_chunk, *shape), dtype=dtype, compressors=[BloscCodec(**codec)])


def _data(rng: np.random.Generator, dtype: str, shape: tuple[int, ...], n: int) -> np.ndarray:
    values = rng.normal(100.0, 30.0, size=(n, *shape))
    return np.ascontiguousarray(np.clip(values, 0, 255).astype(dtype))


@pytest.mark.parametrize("dtype,shape,codec", CASES)
def test_whole_chunks_are_byte_identical_to_zarr(tmp_path: Path, dtype: str, shape: tuple[int, ...], codec: dict) -> None:
    rng = np.random.default_rng(3)
    data = _data(rng, dtype, shape, 10)
    ours = _array(tmp_path / "ours.zarr", "a", dtype, shape, codec)
    theirs = _array(tmp_path / "theirs.zarr", "a", dtype, shape, codec)
    direct = chunk_writer(_NoZarrWrites(ours), tmp_path / "ours.zarr" / "a")
    for start, stop in [(4, 8), (0, 4)]:  # whole chunks, in any order
        direct(start, stop, data[start:stop])
        theirs[start:stop] = data[start:stop]
    chunk_writer(ours, tmp_path / "ours.zarr" / "a")(8, 10, data[8:])  # the partial edge chunk: zarr pads it
    theirs[8:10] = data[8:]
    files = sorted(p.relative_to(tmp_path / "theirs.zarr") for p in (tmp_path / "theirs.zarr" / "a" / "c").rglob("*") if p.is_file())
    assert len(files) == 3
    for rel in files:
        assert (tmp_path / "ours.zarr" / rel).read_bytes() == (tmp_path / "theirs.zarr" / rel).read_bytes(), rel
    back = zarr.open_array(str(tmp_path / "ours.zarr" / "a"), mode="r")[:]
    np.testing.assert_array_equal(back, data)
    assert not list((tmp_path / "ours.zarr" / "a").rglob(".*")), "no temporary files left behind"


def test_other_codecs_and_regions_go_through_zarr(tmp_path: Path) -> None:
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    plain = group.create_array("plain", shape=(8, 4), chunks=(4, 4), dtype="float32", compressors=None)
    tiled = group.create_array("tiled", shape=(8, 4), chunks=(4, 2), dtype="float32")  # not whole along axis 1
    data = np.arange(32, dtype=np.float32).reshape(8, 4)
    for name, array in (("plain", plain), ("tiled", tiled)):
        write = chunk_writer(array, tmp_path / "s.zarr" / name)
        write(0, 4, data[:4])
        write(4, 8, data[4:])
        np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "s.zarr" / name), mode="r")[:], data)
    unaligned = _array(tmp_path / "u.zarr", "u", "float32", (2,), dict(cname="lz4", clevel=5, shuffle="shuffle"), n=8, per_chunk=4)
    write = chunk_writer(unaligned, tmp_path / "u.zarr" / "u")
    write(2, 6, data[:4, :2])  # straddles two chunks: zarr reads, merges and writes both
    back = zarr.open_array(str(tmp_path / "u.zarr" / "u"), mode="r")[:]
    np.testing.assert_array_equal(back[2:6], data[:4, :2])
    np.testing.assert_array_equal(back[:2], 0.0)
