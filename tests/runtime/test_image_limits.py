"""Import limits are configurable and enforced while streaming: size, entry
count, path length, compression ratio; bad limit values are refused."""

import io
import zlib

import pytest

from runtime.errors import ImportFailed, InvalidArgument
from runtime.image.store import ImageStore, ImportLimits
from image_archives import E, tar_bytes


def import_bytes(data: bytes, **limits):
    return ImageStore().import_archive(io.BytesIO(data), name="limited", limits=ImportLimits(**limits))


def test_total_unpacked_size_limit_counts_every_file(state_root):
    archive = tar_bytes([E(f"f{i}", data=b"x" * 4000) for i in range(10)])
    assert import_bytes(archive, max_bytes=40_000).size_bytes == 40_000
    ImageStore().remove("limited")
    with pytest.raises(ImportFailed, match=r"entry 'f9': unpacking it would exceed the 39999 byte size limit"):
        import_bytes(archive, max_bytes=39_999)
    assert ImageStore().list() == []


def test_entry_count_limit(state_root):
    archive = tar_bytes([E(f"f{i}", data=b"") for i in range(50)])
    with pytest.raises(ImportFailed, match=r"archive has more than 49 entries"):
        import_bytes(archive, max_entries=49)
    assert import_bytes(archive, max_entries=50).file_count == 50


def test_path_length_limit(state_root):
    name = "a/" * 60 + "file"
    with pytest.raises(ImportFailed, match=r"path longer than 100 bytes"):
        import_bytes(tar_bytes([E(name, data=b"x")]), max_path_bytes=100)
    assert ImageStore().list() == []


def test_name_longer_than_the_kernel_allows_is_a_clean_error(state_root):
    with pytest.raises(ImportFailed, match=r"entry '" + "n" * 300 + "': a name in its path is longer than 255 bytes"):
        import_bytes(tar_bytes([E("n" * 300, data=b"x")]))


def test_compression_ratio_limit_stops_the_stream_early(state_root):
    header = E("zeros", data=b"")[0]
    header.size = 64 << 20
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(header.tobuf()) + b"".join(packer.compress(bytes(1 << 20)) for _ in range(64))
    bomb += packer.flush()
    with pytest.raises(ImportFailed, match=r"compression ratio exceeds 50:1"):
        import_bytes(bomb, max_ratio=50, ratio_floor_bytes=1 << 20)


def test_highly_compressible_but_honest_archive_passes_with_a_raised_ratio(state_root):
    archive = zlib.compress(tar_bytes([E("zeros", data=bytes(4 << 20))]), 9, wbits=31)
    with pytest.raises(ImportFailed, match="compression ratio"):
        import_bytes(archive, ratio_floor_bytes=1 << 20)
    assert import_bytes(archive, max_ratio=10_000, ratio_floor_bytes=1 << 20).size_bytes == 4 << 20


@pytest.mark.parametrize("field,value", [("max_bytes", 0), ("max_entries", -1), ("max_ratio", "10"),
                                         ("max_path_bytes", 10_000), ("ratio_floor_bytes", True)])
def test_bad_limit_values_are_refused(field, value):
    with pytest.raises(InvalidArgument, match=field):
        ImportLimits(**{field: value})
