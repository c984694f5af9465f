"""The image import form (the tarball is already on disk, see uploads.py:
this checks it looks like an archive) and the "Save as image" form; both
check that the owner has no image of that name."""

import re
from pathlib import Path

from django import forms

from dashboard.images.models import Image

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,99}$")
# Plain tar has "ustar" at offset 257; compressed archives start with their magic.
_MAGIC = (b"\x1f\x8b", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd", b"BZh")


def looks_like_archive(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(512)
    return head.startswith(_MAGIC) or head[257:262] == b"ustar"


def _clean_name(name: str, owner) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise forms.ValidationError("Use letters, digits, '.', '_', ':' and '-'.")
    if Image.objects.filter(owner=owner, name=name).exists():
        raise forms.ValidationError(f"An image named {name} already exists.")
    return name


class ImageImportForm(forms.Form):
    tarball = forms.FileField(label="Tarball")
    name = forms.CharField(label="Name", max_length=100)
    visibility = forms.ChoiceField(label="Visibility", choices=Image.Visibility.choices, initial=Image.Visibility.PRIVATE)

    def __init__(self, *args, owner, upload_problem: str | None = None, **kwargs):
        # Accessible names are exactly "Name", "Image", ...: outside checks find fields by them.
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.upload_problem = upload_problem

    def clean_tarball(self):
        upload = self.cleaned_data["tarball"]
        if not looks_like_archive(upload.path):
            raise forms.ValidationError("This is not a tar archive (plain, gzip, xz, zstd or bzip2).")
        return upload

    def clean_name(self):
        return _clean_name(self.cleaned_data["name"], self.owner)

    def full_clean(self):
        super().full_clean()
        if self.upload_problem:
            # The body was not read (or not all of it): the other fields' errors would only mislead.
            self._errors.clear()
            self.add_error("tarball", self.upload_problem)


class ImageCommitForm(forms.Form):
    name = forms.CharField(label="Image name", max_length=100)

    def __init__(self, *args, owner, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_name(self):
        return _clean_name(self.cleaned_data["name"], self.owner)
