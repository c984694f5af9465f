"""Streams one uploaded tarball straight into UPLOAD_DIR, within UPLOAD_MAX_BYTES
for the whole request (all parts together): a too-big upload never fills the
disk or memory. Nothing is written before the request is known to come from a
logged-in user with a valid CSRF token (upload_csrf_failure and the handler's
handle_raw_input run before the body is read), and what was written is removed
on every path but success (LimitedUploadHandler.discard, called by the view)."""

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, QueryDict
from django.middleware.csrf import CsrfViewMiddleware
from django.template.defaultfilters import filesizeformat
from django.utils.datastructures import MultiValueDict

from dashboard.images.upload_files import upload_name_new, upload_path


class StoredUpload(UploadedFile):
    """An upload already written to its final place: `.upload_name` in UPLOAD_DIR, at `.path`."""

    def __init__(self, name_in_dir: str, name: str, size: int, content_type: str):
        self.upload_name = name_in_dir
        self.path = upload_path(name_in_dir)
        super().__init__(file=open(self.path, "rb"), name=name, content_type=content_type, size=size)

    def temporary_file_path(self) -> str:
        return str(self.path)


def upload_too_large_message() -> str:
    return f"The file is larger than the {filesizeformat(settings.UPLOAD_MAX_BYTES)} limit."


def upload_content_too_large(request) -> bool:
    """Whether the request announces more than UPLOAD_MAX_BYTES, judged before reading it."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > settings.UPLOAD_MAX_BYTES
    except ValueError:
        return True


def upload_csrf_failure(request):
    """CsrfViewMiddleware's verdict on the request's X-CSRFToken header (None: accepted), taken
    without reading the body: csrf_protect reads request.POST first, which writes every file
    part to disk before refusing. The probe shares the request's headers, cookies and session
    but has an empty POST, so only the header can carry the token."""
    probe = HttpRequest()
    probe.method, probe.path, probe.path_info = request.method, request.path, request.path_info
    probe.META, probe.COOKIES = request.META, request.COOKIES
    probe.is_secure, probe.get_host = request.is_secure, request.get_host
    if hasattr(request, "session"):
        probe.session = request.session
    # The test client's switch (Client(enforce_csrf_checks=False)), honoured as csrf_protect does.
    probe._dont_enforce_csrf_checks = getattr(request, "_dont_enforce_csrf_checks", False)
    return CsrfViewMiddleware(lambda req: None).process_view(probe, None, (), {})


class LimitedUploadHandler(FileUploadHandler):
    """Accepts one file part and at most UPLOAD_MAX_BYTES of file data in the request;
    `problem` says why it stopped (None: it did not)."""

    def __init__(self, request):
        super().__init__(request)
        self.problem = None
        self.received = 0
        self.written = []
        self.out = None
        self.stored = None
        self.kept = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # The view checked these already; the handler refuses too, so that no other view using it
        # can skip them. Returning a result here stops the parse before a byte of the body is read.
        if not self.request.user.is_authenticated:
            self.problem = "Log in first."
        elif upload_csrf_failure(self.request) is not None:
            self.problem = "The CSRF check failed: reload the page and try again."
        elif content_length > settings.UPLOAD_MAX_BYTES:
            self.problem = upload_too_large_message()
        else:
            return None
        return QueryDict(encoding=encoding), MultiValueDict()

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.written:
            self.problem = "Send one tarball only."
            raise StopUpload(connection_reset=False)
        settings.UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
        name = upload_name_new()
        self.written.append(name)
        self.out = open(upload_path(name), "xb")
        self.size = 0

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            self.problem = upload_too_large_message()
            self.discard()
            raise StopUpload(connection_reset=False)
        self.out.write(raw_data)
        return None

    def file_complete(self, file_size):
        self.out.close()
        self.out = None
        self.stored = StoredUpload(self.written[-1], self.file_name, self.size, self.content_type)
        return self.stored

    def upload_interrupted(self):
        self.discard()

    def keep(self) -> None:
        """The upload became an image's source: discard leaves it."""
        self.kept = True

    def discard(self) -> None:
        """Close and remove what this request wrote, unless kept."""
        if self.out is not None:
            self.out.close()
            self.out = None
        if self.stored is not None:
            self.stored.close()
        if self.kept:
            return
        for name in self.written:
            upload_path(name).unlink(missing_ok=True)
        self.written = []
