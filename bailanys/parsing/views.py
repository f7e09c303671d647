import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from bailanys.parsing.models import ParsedPost
from bailanys.relay.models import Kind
from bailanys.relay.services import InputError, NotYourClaim
from bailanys.relay.services import posts as services

MAX_TARGET_ROWS = 6


def _coordinators_only(request: HttpRequest) -> None:
    """The review queue is the coordinators': anyone else is not told it exists (404),
    as on the other coordinator pages. The services check again."""
    if not request.user.is_coordinator:
        raise Http404


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    _coordinators_only(request)
    try:
        posts = services.posts_waiting_for_review(reviewer=request.user)
    except NotYourClaim:
        raise Http404 from None
    return render(request, "parsing/review_queue.html", {"posts": posts})


def _fields_from_post(data) -> dict:
    """The reviewer's form as the parser's shape; empty target rows are dropped."""
    targets = []
    for n in range(MAX_TARGET_ROWS):
        phone = data.get(f"target-{n}-phone", "").strip()
        if phone:
            targets.append(
                {
                    "name": data.get(f"target-{n}-name", "").strip() or None,
                    "phone": phone,
                    "city": data.get(f"target-{n}-city", "").strip() or None,
                }
            )
    return {
        "lang": data.get("lang", "ru"),
        "kind": data.get("kind", Kind.WELFARE_CHECK),
        "urgent": data.get("urgent") == "on",
        "targets": targets,
        "message": data.get("message", "").strip() or None,
    }


@login_required
def review_post(request: HttpRequest, post_id: int) -> HttpResponse:
    """The original text beside the parsed fields; correct, then confirm in one tap."""
    _coordinators_only(request)
    try:
        post = services.post_get_for_review(
            post_id=post_id, reviewer=request.user, http_request=request
        )
    except ParsedPost.DoesNotExist:
        if request.method == "POST":
            # Reviewed by someone else since this page was opened (or never waited).
            messages.warning(request, _("Someone else has already reviewed this post."))
            return redirect("parsing:review_queue")
        raise Http404 from None
    except NotYourClaim:
        raise Http404 from None
    errors: dict[str, str] = {}
    if request.method == "POST":
        if request.POST.get("action") == "dismiss":
            try:
                services.post_dismiss(reviewer=request.user, post_id=post.pk)
            except ParsedPost.DoesNotExist:
                messages.warning(request, _("Someone else has already reviewed this post."))
                return redirect("parsing:review_queue")
            messages.success(request, _("Marked as not a request."))
            return redirect("parsing:review_queue")
        fields = _fields_from_post(request.POST)
        try:
            services.post_confirm(reviewer=request.user, post_id=post.pk, fields=fields)
        except InputError as exc:
            errors = exc.errors
        except ParsedPost.DoesNotExist:
            messages.warning(request, _("Someone else has already reviewed this post."))
            return redirect("parsing:review_queue")
        else:
            if services.post_scam_flag(post):
                messages.success(
                    request,
                    _(
                        "Confirmed. The post has scam signs: its cases wait in the "
                        "coordinators' queue until a coordinator records an outcome."
                    ),
                )
            else:
                messages.success(request, _("Confirmed: the requests are in the queue."))
            return redirect("parsing:review_queue")
    else:
        fields = json.loads(post.parsed or "{}")
        # a target the writer called only "мама" is shown as that, not as a blank
        fields["targets"] = [
            {**t, "name": t.get("name") or t.get("relation") or ""}
            for t in fields.get("targets") or []
        ]
    rows = list(fields.get("targets") or [])
    rows += [{"name": "", "phone": "", "city": ""}] * max(1, 2 - len(rows))
    context = {
        "post": post,
        "fields": fields,
        "rows": [
            {**row, "n": n, "error": errors.get(f"targets.{n}.phone", "")}
            for n, row in enumerate(rows[:MAX_TARGET_ROWS])
        ],
        "errors": errors,
        "kinds": Kind.choices,
        "held": bool(services.post_scam_flag(post)),
    }
    return render(request, "parsing/review_post.html", context, status=422 if errors else 200)
