"""The files of a lab, whatever form it comes in: lab.yaml alone, a zip, or a
directory. Each is read into {name relative to lab.yaml: bytes}, bounded, so a
zip bomb or a symlink out of the directory is refused, not followed."""

import io
import posixpath
import zipfile
from pathlib import Path

MAIN_FILE = "lab.yaml"
MAX_FILES = 100
MAX_FILE_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 2 * 1024 * 1024


class LabSourceError(Exception):
    """The upload or path is not a lab at all (one line)."""


def _safe_name(name: str) -> bool:
    parts = name.split("/")
    return not name.startswith("/") and ".." not in parts and "\\" not in name and all(parts)


def _add(files: dict, name: str, data: bytes, total: int) -> int:
    if len(files) >= MAX_FILES:
        raise LabSourceError(f"A lab has at most {MAX_FILES} files.")
    if len(data) > MAX_FILE_BYTES:
        raise LabSourceError(f"{name} is larger than {MAX_FILE_BYTES // 1024} KiB.")
    total += len(data)
    if total > MAX_TOTAL_BYTES:
        raise LabSourceError(f"The lab's files add up to more than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB.")
    files[name] = data
    return total


def _prefix(names: list[str]) -> str:
    """Where lab.yaml is in the zip: at its top, or in its one top directory."""
    if MAIN_FILE in names:
        return ""
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) == 1 and f"{next(iter(tops))}/{MAIN_FILE}" in names:
        return f"{next(iter(tops))}/"
    raise LabSourceError(f"The zip has no {MAIN_FILE} at its top.")


def files_from_zip(data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [info for info in archive.infolist() if not info.is_dir()]
    except zipfile.BadZipFile as exc:
        raise LabSourceError(f"Not a readable zip: {exc}.") from None
    if len(entries) > MAX_FILES:
        raise LabSourceError(f"A lab has at most {MAX_FILES} files.")
    for info in entries:
        if not _safe_name(info.filename):
            raise LabSourceError(f"The zip holds a file outside the lab: {info.filename!r}.")
    prefix = _prefix([info.filename for info in entries])
    files, total = {}, 0
    for info in entries:
        if not info.filename.startswith(prefix):
            continue
        # The sizes in the zip's directory may lie: read at most one byte past the limit.
        with archive.open(info) as member:
            content = member.read(MAX_FILE_BYTES + 1)
        total = _add(files, info.filename[len(prefix):], content, total)
    return files


def files_from_upload(data: bytes) -> dict[str, bytes]:
    """An uploaded lab: a zip (by its magic) or lab.yaml's text."""
    if data.startswith(b"PK\x03\x04"):
        return files_from_zip(data)
    if len(data) > MAX_FILE_BYTES:
        raise LabSourceError(f"{MAIN_FILE} is larger than {MAX_FILE_BYTES // 1024} KiB.")
    return {MAIN_FILE: data}


def files_from_directory(directory: Path) -> dict[str, bytes]:
    root = directory.resolve()
    files, total = {}, 0
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        name = posixpath.join(*path.relative_to(root).parts)
        total = _add(files, name, path.read_bytes()[: MAX_FILE_BYTES + 1], total)
    if MAIN_FILE not in files:
        raise LabSourceError(f"{directory} has no {MAIN_FILE}.")
    return files


def files_from_path(path: Path) -> dict[str, bytes]:
    """lab.yaml, a zip or a directory on disk (the `lab validate` command's argument)."""
    if path.is_dir():
        return files_from_directory(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LabSourceError(f"Cannot read {path}: {exc.strerror}.") from None
    if data.startswith(b"PK\x03\x04"):
        return files_from_zip(data)
    # A YAML file alone is the whole lab; one that names files beside it comes as their directory.
    if len(data) > MAX_FILE_BYTES:
        raise LabSourceError(f"{path} is larger than {MAX_FILE_BYTES // 1024} KiB.")
    return {MAIN_FILE: data}
