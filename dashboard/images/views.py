"""Image pages: fetch what the user may see (or 404), one service call, respond."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from dashboard.containers.selectors import container_get_for_user
from dashboard.images import services
from dashboard.images.forms import ImageCommitForm, ImageImportForm
from dashboard.images.selectors import image_get_manageable, image_get_visible, image_statuses, images_listed_for
from dashboard.images.uploads import (
    LimitedUploadHandler,
    upload_content_too_large,
    upload_csrf_failure,
    upload_too_large_message,
)


@login_required
@require_GET
def image_list(request):
    own, others = images_listed_for(user=request.user)
    return render(request, "images/list.html", {"own": own, "others": others})


@login_required
@require_GET
def image_list_status(request):
    return JsonResponse({"images": image_statuses(user=request.user)})


# CSRF is checked on the X-CSRFToken header before the body is read (uploads.py):
# csrf_protect would read request.POST first, writing every file part to disk.
@csrf_exempt
@login_required
def image_new(request):
    if request.method != "POST":
        return _render(request, ImageImportForm(owner=request.user))
    refused = upload_csrf_failure(request)
    if refused is not None:
        return refused
    if upload_content_too_large(request):
        return _render(request, ImageImportForm({}, owner=request.user, upload_problem=upload_too_large_message()))
    handler = LimitedUploadHandler(request)
    request.upload_handlers = [handler]
    try:
        data, files = request.POST, request.FILES  # parsed here, through the handler
        form = ImageImportForm(data, files, owner=request.user, upload_problem=handler.problem)
        if form.is_valid():
            try:
                services.image_create(
                    owner=request.user,
                    name=form.cleaned_data["name"],
                    upload_name=form.cleaned_data["tarball"].upload_name,
                    upload_bytes=form.cleaned_data["tarball"].size,
                    visibility=form.cleaned_data["visibility"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                handler.keep()
                return redirect("images:list")
        return _render(request, form)
    finally:
        handler.discard()


def _render(request, form):
    context = {"form": form, "max_bytes": settings.UPLOAD_MAX_BYTES}
    return render(request, "images/new.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def image_delete(request, image_id):
    image = image_get_manageable(user=request.user, image_id=image_id)
    try:
        services.image_delete(image=image)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Deleted image {image.name}.")
    return redirect("images:list")


@login_required
@require_POST
def image_commit(request, container_id):
    container = container_get_for_user(user=request.user, container_id=container_id)
    form = ImageCommitForm(request.POST, owner=request.user)
    if form.is_valid():
        name = form.cleaned_data["name"]
        try:
            services.image_commit(container=container, name=name, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Saving {container.name} as image {name}.")
            return redirect("images:list")
    else:
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
    return redirect("containers:detail", container.id)


@login_required
@require_GET
def image_download(request, image_id):
    image = image_get_visible(user=request.user, image_id=image_id)
    try:
        first, rest = services.image_export_open(image=image)
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=409, content_type="text/plain")
    response = StreamingHttpResponse(_prepend(first, rest), content_type="application/x-tar")
    response["Content-Disposition"] = f'attachment; filename="{slugify(image.name) or "image"}.tar"'
    return response


async def _prepend(first: bytes, rest):
    yield first
    async for chunk in rest:
        yield chunk
