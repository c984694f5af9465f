"""The store through `python -m runtime images ...` and its Python API:
import from a file and from stdin, ls (table and JSON), inspect, rm, refs
by name, id and id prefix, refusal to remove an image a container uses,
and one-line errors with exit status 1."""

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.errors import Conflict, InvalidArgument, NotFound
from runtime.image.store import ImageStore
from image_archives import E, tar_bytes

REPO = Path(__file__).resolve().parents[2]


def cli(*args, stdin=None, root=None):
    prefix = ["--root", str(root)] if root else []
    return subprocess.run([sys.executable, "-m", "runtime", *prefix, "images", *args], cwd=REPO, input=stdin,
                          capture_output=True)


def assert_error(result, message):
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == f"error: {message}\n"


def test_import_from_file_and_stdin_then_list_inspect_remove(state_root, busybox_tar):
    by_file = cli("import", str(busybox_tar), "--name", "busybox")
    assert by_file.returncode == 0, by_file.stderr
    image_id = by_file.stdout.decode().strip()
    by_stdin = cli("import", "-", "--name", "busybox-gz", stdin=gzip.compress(busybox_tar.read_bytes()))
    assert by_stdin.returncode == 0, by_stdin.stderr

    listed = json.loads(cli("ls", "--json").stdout)
    assert [(i["name"], i["compression"]) for i in listed] == [("busybox", "none"), ("busybox-gz", "gzip")]
    assert listed[0]["id"] == image_id and listed[0]["file_count"] > 100

    table = cli("ls").stdout.decode().splitlines()
    assert table[0].split()[:3] == ["IMAGE", "ID", "NAME"]
    assert table[1].split()[:2] == [image_id[:12], "busybox"]

    inspected = json.loads(cli("inspect", "busybox").stdout)
    assert inspected["rootfs"] == str(state_root / "images" / image_id / "rootfs")
    assert set(inspected) >= {"id", "name", "sha256", "format", "layers", "size_bytes", "file_count",
                              "defaults", "created_at", "path", "rootfs"}
    record = json.loads((state_root / "images" / image_id / "image.json").read_text())
    assert record["sha256"] == inspected["sha256"]

    removed = cli("rm", "busybox")
    assert removed.returncode == 0 and removed.stdout.decode().strip() == image_id
    assert not (state_root / "images" / image_id).exists()
    assert [i["name"] for i in json.loads(cli("ls", "--json").stdout)] == ["busybox-gz"]


def test_root_option_overrides_the_environment(state_root, tmp_path, busybox_tar):
    other = tmp_path / "other-root"
    assert cli("import", str(busybox_tar), "--name", "elsewhere", root=other).returncode == 0
    assert json.loads(cli("ls", "--json").stdout) == []
    assert [i["name"] for i in json.loads(cli("ls", "--json", root=other).stdout)] == ["elsewhere"]


def test_cli_errors_are_one_line_with_status_1(state_root, tmp_path, busybox_tar):
    assert_error(cli("inspect", "nope"), "no image named 'nope'")
    assert_error(cli("rm", "nope"), "no image named 'nope'")
    assert_error(cli("import", str(tmp_path / "missing.tar"), "--name", "x"),
                 f"archive '{tmp_path / 'missing.tar'}' does not exist")
    assert_error(cli("import", "-", "--name", "x", stdin=b"plain text, not a tarball\n" * 40),
                 "not an archive: the input is not tar, gzip, xz, bzip2 or zstd")
    assert_error(cli("import", str(busybox_tar), "--name", "bad name!"),
                 "invalid image name 'bad name!': use up to 128 letters, digits and . _ : / @ -, "
                 "starting with a letter or digit")
    assert_error(cli("import", str(busybox_tar), "--name", "x", "--max-bytes", "0"),
                 "import limit max_bytes must be a positive number, not 0")
    assert sorted(p.name for p in (state_root / "images").iterdir()) == [".lock"]


def test_refs_by_name_id_and_unique_prefix(state_root):
    store = ImageStore()
    tiny = tar_bytes([E("f", data=b"x")])
    # 17 ids over 16 hex digits: two must share their first digit.
    images = [store.import_archive(io.BytesIO(tiny), name=f"img{i}") for i in range(17)]
    a, b = images[0], images[1]
    assert store.get("img0") == a and store.get(b.id) == b and store.get("sha256:" + b.id) == b
    unique = next(n for n in range(1, 65) if sum(i.id.startswith(a.id[:n]) for i in images) == 1)
    assert store.get(a.id[:unique]) == a
    first_digits = [i.id[0] for i in images]
    shared = next(d for d in first_digits if first_digits.count(d) > 1)
    with pytest.raises(InvalidArgument, match="ambiguous"):
        store.get(shared)
    with pytest.raises(NotFound):
        store.get("img17")


def test_remove_is_refused_while_a_container_uses_the_image(state_root, busybox_tar):
    store = ImageStore()
    info = store.import_archive(busybox_tar, name="busy")
    container = state_root / "containers" / "c0ffee"
    container.mkdir(parents=True)
    (container / "state.json").write_text(json.dumps({"id": "c0ffee", "name": "web1", "image_id": info.id}))
    with pytest.raises(Conflict, match="image 'busy' is used by container web1"):
        store.remove("busy")
    assert_error(cli("rm", "busy"), "image 'busy' is used by container web1")
    assert Path(store.get("busy").rootfs).is_dir()
    (container / "state.json").unlink()
    container.rmdir()
    store.remove("busy")
    assert store.list() == []


def test_one_store_sees_images_removed_and_imported_since_it_last_looked(state_root, busybox_tar):
    # The store keeps what it parsed of each image.json (a start looks its image up).
    store = ImageStore()
    first = store.import_archive(busybox_tar, name="before")
    assert [i.name for i in store.list()] == ["before"]
    other = ImageStore()
    other.remove("before")
    again = other.import_archive(busybox_tar, name="after")
    assert [(i.name, i.id) for i in store.list()] == [("after", again.id)] and again.id != first.id
    with pytest.raises(NotFound):
        store.get("before")


def test_each_import_is_placed_as_the_top_of_its_own_tree_on_ext4(state_root, busybox_tar):
    # chattr +T on images/: ext4 picks a fresh inode group for each image
    # rather than the groups a removal has just emptied (slow to reuse
    # without a journal).
    if subprocess.run(["stat", "-f", "-c", "%T", str(state_root)], capture_output=True, text=True).stdout.strip() \
            != "ext2/ext3":
        pytest.skip("the state root is not on ext4")
    ImageStore().import_archive(busybox_tar, name="busy")
    attributes = subprocess.run(["lsattr", "-d", str(state_root / "images")], capture_output=True, text=True,
                                check=True).stdout.split()[0]
    assert "T" in attributes
