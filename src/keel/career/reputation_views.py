"""The reputation pages. A worker's own: the portfolio (list, add, edit, delete, and each
upload served to its worker only), testimonials (requests with their link shown once, and
the testimonials received, each shown or hidden), and the profile. Without an account: a
client's testimonial page at /t/<token>/ and the public profile at /p/<handle>/ (their
routes are ``public_urlpatterns``, mounted at the root by ``keel.urls``).

Views stay thin: ``keel.career.reputation_services`` checks and writes. Another worker's
item, request or testimonial is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from keel.uploads import limit_upload_size, refuse_oversized

from . import reputation_services as services
from .errors import CareerError
from .forms import add_career_error, sentence
from .models import PortfolioItem, Profile, Testimonial, TestimonialRequest
from .reputation_forms import PortfolioForm, ProfileForm, TestimonialForm, TestimonialRequestForm
from .rules import reputation as rules
from .views import _worker, worker_page

ITEM_FIELDS = ("title", "summary", "link", "done_on", "skills", "client_name")


def _item(request: HttpRequest, item_id: int) -> PortfolioItem:
    return get_object_or_404(PortfolioItem, pk=item_id, worker=_worker(request))


def _upload(form: PortfolioForm) -> tuple[UploadedFile | None, str]:
    upload = form.cleaned_data.get("file")
    if isinstance(upload, UploadedFile):
        return upload, upload.name or "file"
    return None, ""


# ---------------------------------------------------------------------------- portfolio


def _too_big(request: HttpRequest, form: PortfolioForm) -> bool:
    """A file dropped while it streamed in for passing the limit: an error on its field
    (the form alone would save the item without it)."""
    return refuse_oversized(request, form, sentence(services.too_big_message()))


@worker_page
@require_http_methods(["GET", "POST"])
@limit_upload_size(lambda: services.MAX_FILE_BYTES)
def portfolio(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    status = 200
    if request.method == "POST":
        form = PortfolioForm(request.POST, request.FILES)
        if not _too_big(request, form) and form.is_valid():
            upload, name = _upload(form)
            try:
                item = services.create_portfolio_item(
                    worker,
                    upload=upload,
                    upload_name=name,
                    key=form.cleaned_data.get("token") or "",
                    **{f: form.cleaned_data.get(f) for f in ITEM_FIELDS},
                )
            except CareerError as exc:
                add_career_error(form, exc)
            else:
                messages.success(request, f"{item.title} is in your portfolio.")
                return redirect("career:portfolio")
        status = 400
    else:
        form = PortfolioForm()
    context = {
        "items": PortfolioItem.objects.filter(worker=worker),
        "form": form,
        "profile": Profile.objects.filter(worker=worker).first(),
    }
    return render(request, "career/reputation/portfolio.html", context, status=status)


@worker_page
@require_http_methods(["GET", "POST"])
@limit_upload_size(lambda: services.MAX_FILE_BYTES)
def portfolio_edit(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item(request, item_id)
    has_file = bool(item.file)
    if request.method != "POST":
        initial = {f: getattr(item, f) for f in ITEM_FIELDS}
        form = PortfolioForm(initial=initial, has_file=has_file)
        return render(
            request, "career/reputation/portfolio_edit.html", {"item": item, "form": form}
        )
    form = PortfolioForm(request.POST, request.FILES, has_file=has_file)
    if not _too_big(request, form) and form.is_valid():
        upload, name = _upload(form)
        try:
            services.update_portfolio_item(
                item,
                upload=upload,
                upload_name=name,
                remove_file=bool(form.cleaned_data.get("remove_file")),
                **{f: form.cleaned_data.get(f) for f in ITEM_FIELDS},
            )
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(request, f"{item.title} is saved.")
            return redirect("career:portfolio")
    return render(
        request, "career/reputation/portfolio_edit.html", {"item": item, "form": form}, status=400
    )


@worker_page
@require_POST
def portfolio_delete(request: HttpRequest, item_id: int) -> HttpResponse:
    item = _item(request, item_id)
    title = item.title
    services.delete_portfolio_item(item)
    messages.success(request, f"{title} is removed from your portfolio.")
    return redirect("career:portfolio")


@worker_page
@require_GET
def portfolio_file(request: HttpRequest, item_id: int) -> FileResponse:
    """An item's upload, to its worker only (anyone else: 404)."""
    item = _item(request, item_id)
    if not item.file:
        raise Http404("this item has no file")
    return FileResponse(item.file.open("rb"), as_attachment=True, filename=item.file_name or "file")


# ---------------------------------------------------------------------------- testimonials


def _link_url(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("career_public:testimonial", args=[token]))


def _testimonials_page(
    request: HttpRequest,
    *,
    form: TestimonialRequestForm | None = None,
    new_link: tuple[TestimonialRequest, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    worker = _worker(request)
    context: dict[str, Any] = {
        "form": form or TestimonialRequestForm(),
        "requests": TestimonialRequest.objects.filter(worker=worker).select_related("testimonial"),
        "testimonials": Testimonial.objects.filter(request__worker=worker).select_related(
            "request"
        ),
        "new_link": new_link,
        "now": timezone.now(),
    }
    return render(request, "career/reputation/testimonials.html", context, status=status)


@worker_page
@require_http_methods(["GET", "POST"])
def testimonials(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _testimonials_page(request)
    form = TestimonialRequestForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            row, token = services.request_testimonial(
                _worker(request),
                client_name=data["client_name"],
                client_email=data["client_email"],
                key=data.get("token") or "",
            )
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            if token is None:
                messages.info(
                    request,
                    f"That form was already sent: the request to {row.client_name} is in the"
                    " list below and its link is not shown again. Make a new link if you did"
                    " not keep it.",
                )
                return redirect("career:testimonials")
            # The link is shown on this response only (it is not stored): no redirect.
            return _testimonials_page(request, new_link=(row, _link_url(request, token)))
    return _testimonials_page(request, form=form, status=400)


@worker_page
@require_POST
def testimonial_new_link(request: HttpRequest, request_id: int) -> HttpResponse:
    row = get_object_or_404(TestimonialRequest, pk=request_id, worker=_worker(request))
    try:
        token = services.replace_link(row)
    except CareerError as exc:
        messages.error(request, f"No new link: {exc.message}.")
        return redirect("career:testimonials")
    return _testimonials_page(request, new_link=(row, _link_url(request, token)))


@worker_page
@require_POST
def testimonial_shown(request: HttpRequest, testimonial_id: int) -> HttpResponse:
    testimonial = get_object_or_404(
        Testimonial, pk=testimonial_id, request__worker=_worker(request)
    )
    shown = request.POST.get("shown") == "1"
    services.set_shown(testimonial, shown)
    messages.success(
        request,
        f"The testimonial by {testimonial.author_name} is "
        + ("shown on your profile." if shown else "hidden from your profile."),
    )
    return redirect("career:testimonials")


# ---------------------------------------------------------------------------- profile


@worker_page
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    worker = _worker(request)
    current = Profile.objects.filter(worker=worker).first()
    if request.method != "POST":
        initial = (
            {f: getattr(current, f) for f in ("handle", "headline", "bio", "public")}
            if current
            else {}
        )
        form = ProfileForm(initial=initial)
        return render(request, "career/reputation/profile.html", {"form": form, "profile": current})
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            saved = services.save_profile(worker, **form.cleaned_data)
        except CareerError as exc:
            add_career_error(form, exc)
        else:
            messages.success(
                request,
                "Your profile is saved and public."
                if saved.public
                else "Your profile is saved. It is private: only you can see it.",
            )
            return redirect("career:profile")
    return render(
        request, "career/reputation/profile.html", {"form": form, "profile": current}, status=400
    )


# ---------------------------------------------------------------------------- public pages

REFUSALS = {
    "forged": "This link is not a valid testimonial link. Check that you copied all of it.",
    "malformed": "This link is not a valid testimonial link. Check that you copied all of it.",
    "wrong_request": "This link is not, or no longer, a valid testimonial link: it may have"
    " been replaced by a newer one. Ask for a new link.",
    "expired": "This link has expired. Ask for a new one.",
    "used": "A testimonial has already been written with this link. Thank you!",
}


def _refused(request: HttpRequest, exc: rules.TokenError) -> HttpResponse:
    status = 410 if exc.code in services.GONE else 400
    return render(
        request,
        "career/link_refused.html",
        {
            "message": REFUSALS.get(exc.code, REFUSALS["forged"]),
            "code": exc.code,
            "link_name": "Testimonial link",
            "nothing_done": "Nothing was saved.",
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
def testimonial_write(request: HttpRequest, token: str) -> HttpResponse:
    """The client's page: no account, the link is the key."""
    try:
        row = services.open_link(token)
    except rules.TokenError as exc:
        return _refused(request, exc)
    status = 200
    if request.method == "POST":
        form = TestimonialForm(request.POST)
        if form.is_valid():
            try:
                services.write_testimonial(token, **form.cleaned_data)
            except rules.TokenError as exc:
                return _refused(request, exc)
            except CareerError as exc:
                add_career_error(form, exc)
            else:
                return render(request, "career/reputation/testimonial_thanks.html", {"row": row})
        status = 400
    else:
        form = TestimonialForm(initial={"author_name": row.client_name})
    return render(
        request,
        "career/reputation/testimonial_write.html",
        {"form": form, "row": row, "worker_name": row.worker.get_full_name()},
        status=status,
    )


@require_GET
def public_profile(request: HttpRequest, handle: str) -> HttpResponse:
    shown = services.public_profile(handle, request.user)
    if shown is None:
        raise Http404("no such profile")
    return render(request, "career/reputation/public_profile.html", {"p": shown})


urlpatterns = [
    path("portfolio/", portfolio, name="portfolio"),
    path("portfolio/<int:item_id>/edit/", portfolio_edit, name="portfolio_edit"),
    path("portfolio/<int:item_id>/delete/", portfolio_delete, name="portfolio_delete"),
    path("portfolio/<int:item_id>/file/", portfolio_file, name="portfolio_file"),
    path("testimonials/", testimonials, name="testimonials"),
    path(
        "testimonials/requests/<int:request_id>/link/",
        testimonial_new_link,
        name="testimonial_new_link",
    ),
    path("testimonials/<int:testimonial_id>/shown/", testimonial_shown, name="testimonial_shown"),
    path("profile/", profile, name="profile"),
]

public_urlpatterns = [
    path("t/<str:token>/", testimonial_write, name="testimonial"),
    path("p/<str:handle>/", public_profile, name="profile"),
]
