"""Export: an image (a committed one: its base's layer and its own) as a
`docker save` archive or an OCI layout, which Terrarium imports again with
the same tree, and umoci and skopeo read."""

import hashlib
import json
import os
import pickle
import stat
import subprocess
import sys
import tarfile

import pytest

from forked_child import run_forked
from runtime import ContainerConfig, InvalidArgument, NotFound, export_image
from runtime.linux import syscalls

CHANGES = (
    "echo added > /added; echo changed > /etc/group; rm /bin/vi; rm -rf /home;"
    " rm -rf /var; mkdir -p /var/new; echo fresh > /var/new/file;"
    " ln -s ../added /etc/link; ln /added /hard; chown 1000:1001 /added; chmod 4750 /added;"
    " mkdir /owned; chown 7:8 /owned; chmod 700 /owned; mkfifo /owned/pipe"
)


def describe(root) -> dict:
    """{path: what a container sees there}: kind, owner, mode, contents or
    target, and for a hard link the first path of its inode."""
    tree, inodes = {}, {}
    for base, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(base, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            owner = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
            if stat.S_ISREG(st.st_mode):
                first = inodes.setdefault((st.st_dev, st.st_ino), rel)
                with open(path, "rb") as f:
                    tree[rel] = ("file", *owner, hashlib.sha256(f.read()).hexdigest(), first)
            elif stat.S_ISLNK(st.st_mode):
                tree[rel] = ("symlink", st.st_uid, st.st_gid, os.readlink(path))
            else:
                tree[rel] = (stat.S_IFMT(st.st_mode), *owner)
    return tree


def merged_tree(image_store, info, tmp_path) -> dict:
    """describe() of the image as its containers mount it: its layers as an overlay's lower dirs."""
    target, out = tmp_path / "merged", tmp_path / "merged.pickle"
    target.mkdir()
    lower = [layer.rootfs for layer in image_store.chain(info)]

    def in_namespace():
        syscalls.unshare(syscalls.CLONE_NEWNS)
        syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
        # Two lower dirs and no upper: a read-only overlay.
        syscalls.mount("overlay", str(target), "overlay", syscalls.MS_RDONLY, f"lowerdir={':'.join(lower)}")
        with open(out, "wb") as f:
            pickle.dump(describe(target), f)

    status, output = run_forked(in_namespace)
    assert status == 0, output
    with open(out, "rb") as f:
        return pickle.load(f)


@pytest.fixture
def committed(rt):
    state = rt.wait(rt.run(ContainerConfig(image="busybox", command=["sh", "-c", CHANGES],
                                           env={"LAB": "1"}, workdir="/var/new")).id)
    assert state.exit_code == 0
    return rt.commit(state.id, "lab/saved:v1")


def export_cli(name: str, path, fmt: str) -> None:
    done = subprocess.run([sys.executable, "-m", "runtime", "images", "export", name, "-o", str(path),
                           "--format", fmt], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_an_exported_image_imports_again_with_the_same_tree(rt, committed, tmp_path, fmt):
    archive = tmp_path / f"saved-{fmt}.tar"
    export_cli("lab/saved:v1", archive, fmt)
    again = rt.images.import_archive(archive, name=f"again-{fmt}")
    assert again.format == {"docker": "docker-save", "oci": "oci-layout"}[fmt]
    assert again.defaults == committed.defaults
    expected = merged_tree(rt.images, committed, tmp_path)
    assert "bin/vi" not in expected and "home" not in expected and "var/log" not in expected
    assert expected["added"][1:4] == (1000, 1001, 0o4750) and expected["hard"][-1] == "added"
    assert describe(again.rootfs) == expected


def test_a_failed_export_leaves_no_file(rt, committed, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([sys.executable, "-m", "runtime", "images", "export", "no-such-image", "-o",
                           str(out / "image.tar")], capture_output=True, text=True)
    assert done.returncode == 1 and "no image named" in done.stderr
    assert os.listdir(out) == []


def test_a_bad_format_or_image_is_refused_before_any_byte(rt, committed):
    with pytest.raises(InvalidArgument):
        export_image(rt.images, "lab/saved:v1", "zip")
    with pytest.raises(NotFound):
        export_image(rt.images, "no-such-image")


def test_the_docker_archive_names_its_layers_and_config_by_digest(rt, committed, tmp_path):
    archive = tmp_path / "saved.tar"
    with open(archive, "wb") as f:
        for chunk in export_image(rt.images, "lab/saved:v1", "docker"):
            f.write(chunk)
    with tarfile.open(archive) as tar:
        (manifest,) = json.load(tar.extractfile("manifest.json"))
        config_bytes = tar.extractfile(manifest["Config"]).read()
        layers = [hashlib.sha256(tar.extractfile(name).read()).hexdigest() for name in manifest["Layers"]]
    assert manifest["RepoTags"] == ["lab/saved:v1"]
    assert manifest["Config"] == hashlib.sha256(config_bytes).hexdigest() + ".json"
    config = json.loads(config_bytes)
    assert config["rootfs"]["diff_ids"] == [f"sha256:{digest}" for digest in layers]
    assert len(layers) == 2 and committed.layers[-1] == config["rootfs"]["diff_ids"][-1]
    assert config["config"]["Env"] == ["LAB=1"] and config["config"]["WorkingDir"] == "/var/new"


def test_umoci_unpacks_the_oci_layout(rt, committed, tmp_path):
    archive, layout, bundle = tmp_path / "saved.tar", tmp_path / "layout", tmp_path / "bundle"
    export_cli("lab/saved:v1", archive, "oci")
    layout.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(layout, filter="fully_trusted")
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:v1", str(bundle)], check=True, capture_output=True)
    assert describe(bundle / "rootfs") == merged_tree(rt.images, committed, tmp_path)


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_skopeo_reads_and_copies_the_archive(rt, committed, tmp_path, fmt):
    archive, layout, bundle = tmp_path / "saved.tar", tmp_path / "layout", tmp_path / "bundle"
    export_cli("lab/saved:v1", archive, fmt)
    transport = {"oci": "oci-archive", "docker": "docker-archive"}[fmt]
    # skopeo unpacks an oci-archive under /var/tmp unless told (read-only in the cgroup v2 VM).
    skopeo = ["skopeo", "--tmpdir", str(tmp_path)]
    inspect = subprocess.run([*skopeo, "inspect", f"{transport}:{archive}"], capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    inspected = json.loads(inspect.stdout)
    assert len(inspected["Layers"]) == 2 and inspected["Layers"][-1] == committed.layers[-1]
    assert inspected["Env"] == ["LAB=1"]
    # skopeo checks every digest as it copies; umoci unpacks the copy.
    subprocess.run([*skopeo, "copy", "-q", f"{transport}:{archive}", f"oci:{layout}:copied"], check=True,
                   capture_output=True)
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:copied", str(bundle)], check=True, capture_output=True)
    assert describe(bundle / "rootfs") == merged_tree(rt.images, committed, tmp_path)
