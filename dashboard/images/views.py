"""Image pages: fetch what the user may see (or 404), one service call, respond."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from dashboard.images import services
from dashboard.images.forms import ImageImportForm
from dashboard.images.selectors import image_get_manageable, image_statuses, images_visible_to
from dashboard.images.uploads import LimitedUploadHandler


@login_required
@require_GET
def image_list(request):
    return render(request, "images/list.html", {"images": images_visible_to(user=request.user)})


@login_required
@require_GET
def image_list_status(request):
    return JsonResponse({"images": image_statuses(user=request.user)})


@csrf_exempt
@login_required
def image_new(request):
    # The upload handler must be in place before anything reads the body, CSRF included.
    request.upload_handlers = [LimitedUploadHandler(request)]
    return _image_new(request)


@csrf_protect
def _image_new(request):
    posted = request.method == "POST"
    form = ImageImportForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        too_large=getattr(request, "upload_too_large", False),
    )
    if posted and form.is_valid():
        try:
            services.image_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                upload_path=str(form.cleaned_data["tarball"].path),
                visibility=form.cleaned_data["visibility"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("images:list")
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
