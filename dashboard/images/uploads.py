"""Streams an uploaded tarball straight into UPLOAD_DIR, stopping as soon as it
passes UPLOAD_MAX_BYTES: a too-big upload never fills the disk or memory."""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class StoredUpload(UploadedFile):
    """An upload already written to its final place; `.path` is where."""

    def __init__(self, path: Path, name: str, size: int, content_type: str):
        super().__init__(file=open(path, "rb"), name=name, content_type=content_type, size=size)
        self.path = path

    def temporary_file_path(self) -> str:
        return str(self.path)


class LimitedUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
        self.path = Path(settings.UPLOAD_DIR) / f"{uuid.uuid4().hex}.upload"
        self.out = open(self.path, "wb")
        self.size = 0

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        if self.size > settings.UPLOAD_MAX_BYTES:
            self.out.close()
            self.path.unlink(missing_ok=True)
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=False)
        self.out.write(raw_data)
        return None

    def file_complete(self, file_size):
        self.out.close()
        return StoredUpload(self.path, self.file_name, self.size, self.content_type)

    def upload_interrupted(self):
        if getattr(self, "out", None) is not None:
            self.out.close()
            self.path.unlink(missing_ok=True)
