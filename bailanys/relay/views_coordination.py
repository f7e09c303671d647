"""The coordinator's case tools: thin views over relay.coordination.

Every page and action here is for coordinators only: anyone else gets 404 (a page
of personal data does not admit it exists), anonymous visitors the login page.
Actions are POST-only and come back to the tools page with a message.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from bailanys.relay import coordination
from bailanys.relay.forms import (
    BroadcastForm,
    CaseLookupForm,
    CloseForm,
    MergeForm,
    ReassignForm,
)
from bailanys.relay.services import InputError, NotYourClaim

TOOLS = "relay:coordinator_cases"


def coordinator_only(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_coordinator:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _errors(request: HttpRequest, errors: dict) -> None:
    for reasons in errors.values():
        for reason in reasons if isinstance(reasons, list) else [reasons]:
            messages.error(request, reason)


def _act(
    request: HttpRequest,
    action: Callable,
    success: str | Callable[[dict], str],
    *,
    form_class: type | None = None,
    **kwargs,
) -> HttpResponse:
    """Run a coordination service; say how it went on the tools page.

    With `form_class`, the POSTed form is checked first and its cleaned fields are the
    service's arguments too; `success` may then be made from them.
    """
    if form_class is not None:
        form = form_class(request.POST)
        if not form.is_valid():
            _errors(request, form.errors)
            return redirect(TOOLS)
        kwargs.update(form.cleaned_data)
    try:
        action(coordinator=request.user, **kwargs)
    except NotYourClaim:
        raise Http404 from None
    except InputError as exc:
        _errors(request, exc.errors)
    else:
        messages.success(request, success(kwargs) if callable(success) else success)
    return redirect(TOOLS)


@login_required
@coordinator_only
def cases(request: HttpRequest) -> HttpResponse:
    """Who holds what, the suggested merges, one case looked up by number, the tools."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    lookup = CaseLookupForm(request.GET or None)
    found = None
    if lookup.is_valid():
        found = coordination.case_summary(
            coordinator=request.user, case_id=lookup.cleaned_data["case"], http_request=request
        )
        if found is None:
            messages.error(request, _("There is no case with that number."))
    context = {
        "holders": coordination.holders(coordinator=request.user),
        "escalated": coordination.escalated_ids(coordinator=request.user),
        "suggestions": coordination.merge_suggestions(
            coordinator=request.user, http_request=request
        ),
        "broadcasts": coordination.broadcasts_recent(),
        "lookup": lookup,
        "found": found,
        "reassign_form": ReassignForm(),
        "close_form": CloseForm(),
        "merge_form": MergeForm(),
        "broadcast_form": BroadcastForm(),
    }
    response = render(request, "relay/coordinator_cases.html", context)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
@coordinator_only
def case_break(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(
        request,
        coordination.lease_break,
        _("Case %(id)d is back in the queue.") % {"id": case_id},
        case_id=case_id,
    )


@login_required
@require_POST
@coordinator_only
def case_reassign(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(
        request,
        coordination.case_reassign,
        lambda done: (
            _("Case %(id)d now belongs to %(user)s.") % {"id": case_id, "user": done["username"]}
        ),
        form_class=ReassignForm,
        case_id=case_id,
    )


@login_required
@require_POST
@coordinator_only
def case_close(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(
        request,
        coordination.case_close,
        _("Case %(id)d is closed; its requesters will be told.") % {"id": case_id},
        form_class=CloseForm,
        case_id=case_id,
    )


@login_required
@require_POST
@coordinator_only
def case_merge(request: HttpRequest) -> HttpResponse:
    return _act(
        request,
        coordination.case_merge,
        lambda done: (
            _("Case %(merge)d is merged into case %(keep)d; every requester will be told.")
            % {"merge": done["merge_id"], "keep": done["keep_id"]}
        ),
        form_class=MergeForm,
    )


@login_required
@require_POST
@coordinator_only
def case_split(request: HttpRequest, case_id: int) -> HttpResponse:
    return _act(
        request,
        coordination.case_split,
        _("Case %(id)d is separate again and back in the queue.") % {"id": case_id},
        case_id=case_id,
    )


@login_required
@require_POST
@coordinator_only
def broadcast(request: HttpRequest) -> HttpResponse:
    return _act(
        request,
        coordination.broadcast_send,
        _("Every volunteer will see the note on their console."),
        form_class=BroadcastForm,
    )
