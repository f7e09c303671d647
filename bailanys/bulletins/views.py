"""The bulletins pages for coordinators (docs/bulletins.md): drafting, the two-person rule,
the sending's progress.

Thin views over bailanys.bulletins.services, which audits every decision. Every page here
is a coordinator's: a volunteer is answered 404, as on every coordinator page. The editor
asks /coordinate/bulletins/parts/ how many SMS parts each version costs as it is typed.
"""

import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, IntegerField, Value, When
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from bailanys.bulletins.forms import LANGUAGE_LABELS, BulletinForm
from bailanys.bulletins.models import LANGUAGES, Bulletin, BulletinDelivery
from bailanys.bulletins.services import (
    BulletinInvalid,
    NotAllowed,
    bulletin_approve,
    bulletin_draft,
    bulletin_progress,
    bulletin_reject,
    bulletin_withdraw,
    first_words,
    message_for,
    text_for,
)
from bailanys.channels.sms.gateways import gateways_configured
from bailanys.channels.sms.models import SmsDelivery
from bailanys.channels.sms.segments import segments
from bailanys.relay.services.inputs import clean_text

MAX_PARTS = 2  # past this the editor warns
LISTED = 200
# A code as long as any real one: the parts are counted on the SMS as it will be sent.
SAMPLE_CODE = "B7K2"
# The service's error keys that are no form field: shown above the texts.
_NON_FIELD = ("texts", "corrects")


def _coordinator(request: HttpRequest) -> None:
    if not request.user.is_coordinator:
        raise Http404  # as every coordinator page: a volunteer is not told it exists


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def _bulletin(pk: int) -> Bulletin:
    bulletin = (
        Bulletin.objects.select_related("author", "decided_by", "corrects").filter(pk=pk).first()
    )
    if bulletin is None:
        raise Http404
    return bulletin


# --- The SMS parts of each version ----------------------------------------------------


def parts_of(form_data, corrects: Bulletin | None = None) -> list[dict]:
    """Each version typed so far, as the SMS a subscriber gets (text, source line, code)."""
    texts = {
        language: clean_text(form_data.get(f"text_{language}"))
        for language in LANGUAGES
        if clean_text(form_data.get(f"text_{language}"))
    }
    sample = Bulletin(
        code=SAMPLE_CODE,
        texts=texts,
        source=clean_text(form_data.get("source")),
        official=form_data.get("official") in ("on", "true", "1", True),
        corrects=corrects,
    )
    rows = []
    for language in LANGUAGES:
        if language not in texts:
            continue
        n = segments(message_for(sample, language))
        rows.append(
            {
                "language": language,
                "label": LANGUAGE_LABELS[language],
                "parts": n,
                "warn": n > MAX_PARTS,
            }
        )
    return rows


def _corrected(value) -> Bulletin | None:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return Bulletin.objects.filter(pk=pk).first()


@login_required
def parts(request: HttpRequest) -> HttpResponse:
    """/coordinate/bulletins/parts/: the editor's live count (an htmx fragment)."""
    _coordinator(request)  # first: a volunteer is not told the page exists
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    rows = parts_of(request.POST, _corrected(request.POST.get("corrects")))
    response = render(request, "bulletins/_parts.html", {"parts": rows, "max_parts": MAX_PARTS})
    return _no_store(response)


# --- The list and the new-bulletin form ------------------------------------------------


def _listed():
    order = Case(
        When(state=Bulletin.State.DRAFT, then=Value(0)),
        When(state=Bulletin.State.ISSUED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    rows = list(
        Bulletin.objects.select_related("author")
        .annotate(order=order)
        .order_by("order", "-created_at")[:LISTED]
    )
    for row in rows:
        row.beginning = first_words(text_for(row, "ru")[1]) if row.texts else ""
    return rows


def _prefilled(earlier: Bulletin) -> BulletinForm:
    initial = {f"text_{lang}": text for lang, text in earlier.texts.items()}
    initial.update(
        source=earlier.source,
        official=earlier.official,
        regions=", ".join(earlier.regions),
        corrects=earlier.pk,
    )
    return BulletinForm(initial=initial, parts_url=reverse("bulletins:parts"))


def _list_page(request, form: BulletinForm, *, corrects=None, status=200) -> HttpResponse:
    data = (
        form.data if form.is_bound else {name: form.initial.get(name, "") for name in form.fields}
    )
    return _no_store(
        render(
            request,
            "bulletins/list.html",
            {
                "bulletins": _listed(),
                "form": form,
                "corrects": corrects,
                "parts": parts_of(data, corrects),
                "max_parts": MAX_PARTS,
            },
            status=status,
        )
    )


def _form_errors(form: BulletinForm, errors: dict[str, str]) -> None:
    for key, message in errors.items():
        if key.startswith("texts."):
            form.add_error(f"text_{key.split('.', 1)[1]}", message)
        elif key in form.fields and key not in _NON_FIELD:
            form.add_error(key, message)
        else:
            form.add_error(None, message)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def bulletins(request: HttpRequest) -> HttpResponse:
    """/coordinate/bulletins/: drafts waiting for a second coordinator, issued ones, the rest;
    and the form for a new one (?corrects=<id>: a correction of an issued one, prefilled)."""
    _coordinator(request)
    parts_url = reverse("bulletins:parts")
    if request.method != "POST":
        earlier = _corrected(request.GET.get("corrects"))
        if earlier is not None and earlier.state == Bulletin.State.ISSUED:
            return _list_page(request, _prefilled(earlier), corrects=earlier)
        return _list_page(request, BulletinForm(parts_url=parts_url))
    form = BulletinForm(request.POST, parts_url=parts_url)
    earlier = _corrected(request.POST.get("corrects"))
    if not form.is_valid():
        return _list_page(request, form, corrects=earlier, status=422)
    if form.cleaned_data.get("corrects") and earlier is None:
        form.add_error(None, _("The bulletin to correct is gone."))
        return _list_page(request, form, status=422)
    try:
        bulletin = bulletin_draft(
            texts=form.texts(),
            source=form.source_text(),
            author=request.user,
            regions=form.regions_list(),
            expires_at=form.cleaned_data["expires_at"],
            official=form.cleaned_data["official"],
            corrects=earlier,
            request=request,
        )
    except BulletinInvalid as exc:
        _form_errors(form, exc.errors)
        return _list_page(request, form, corrects=earlier, status=422)
    messages.success(
        request,
        _("Draft %(code)s saved: a second coordinator must approve it before it is sent.")
        % {"code": bulletin.code},
    )
    return redirect("bulletins:bulletin", pk=bulletin.pk)


# --- One bulletin: deciding, progress --------------------------------------------------


def _gateway_rate() -> float:
    """SMS a minute the enabled gateways can give bulletins: their rates times the share
    of a SIM's budget that lanes behind the urgent one may use."""
    total = sum(gateway.per_minute for gateway in gateways_configured())
    return total * settings.BAILANYS_SMS_BULK_SHARE / 100


def progress_of(bulletin: Bulletin) -> dict:
    p = bulletin_progress(bulletin)
    outbox_ids = BulletinDelivery.objects.filter(bulletin=bulletin).values("outbox_id")
    delivered = (
        SmsDelivery.objects.filter(outbox_id__in=outbox_ids, state=SmsDelivery.State.DELIVERED)
        .values("outbox_id")
        .distinct()
        .count()
    )
    sending = bulletin.state == Bulletin.State.ISSUED and (p.waiting > 0 or not p.fanout_done)
    eta = p.eta_minutes
    if eta is None and p.waiting:
        rate = _gateway_rate()
        eta = p.waiting / rate if rate else None
    if not sending:
        estimate = ""
    elif eta is None:
        estimate = _("No estimate yet: no SMS gateway is enabled and nothing was sent yet.")
    else:
        minutes = max(1, math.ceil(eta))
        estimate = ngettext(
            "About %(n)d minute to finish.", "About %(n)d minutes to finish.", minutes
        ) % {"n": minutes}
    return {
        "recipients": p.recipients,
        "waiting": p.waiting,
        "sent": p.sent,
        "delivered": delivered,
        "failed": p.failed,
        "sending": sending,
        "estimate": estimate,
    }


def _not_allowed(request: HttpRequest, bulletin: Bulletin, action: str) -> HttpResponse:
    current = Bulletin.objects.get(pk=bulletin.pk)
    if action == "approve" and current.state == Bulletin.State.DRAFT:
        reason = _("You wrote this bulletin: a second coordinator must approve it.")
    else:
        reason = _("This bulletin cannot be changed that way: it is %(state)s now.") % {
            "state": current.get_state_display().lower()
        }
    response = render(
        request, "bulletins/not_allowed.html", {"bulletin": current, "reason": reason}, status=403
    )
    return _no_store(response)


_ACTIONS = {
    "approve": (bulletin_approve, gettext_lazy("Approved: %(code)s is being sent.")),
    "reject": (bulletin_reject, gettext_lazy("Rejected: %(code)s will not be sent.")),
    "withdraw": (
        bulletin_withdraw,
        gettext_lazy("Withdrawn: %(code)s is no longer sent, and CHECK says it was withdrawn."),
    ),
}


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def bulletin(request: HttpRequest, pk: int) -> HttpResponse:
    """/coordinate/bulletins/<id>/: the bulletin, who wrote and decided it, and the buttons
    the viewer may press (the author cannot approve their own)."""
    _coordinator(request)
    found = _bulletin(pk)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in _ACTIONS:
            return HttpResponseBadRequest()
        decide, said = _ACTIONS[action]
        try:
            decided = decide(found.pk, by=request.user, request=request)
        except NotAllowed:
            return _not_allowed(request, found, action)
        messages.success(request, str(said) % {"code": decided.code})
        return redirect("bulletins:bulletin", pk=found.pk)
    messages_sent = [
        {"label": LANGUAGE_LABELS[lang], "text": message_for(found, lang)}
        for lang in LANGUAGES
        if found.texts.get(lang)
    ]
    return _no_store(
        render(
            request,
            "bulletins/bulletin.html",
            {
                "b": found,
                "mine": found.author_id == request.user.pk,
                "sms": messages_sent,
                "progress": progress_of(found),
                "corrections": list(found.corrections.all()),
            },
        )
    )


@login_required
def progress(request: HttpRequest, pk: int) -> HttpResponse:
    """/coordinate/bulletins/<id>/progress/: the progress block alone, polled while sending."""
    _coordinator(request)
    found = _bulletin(pk)
    return _no_store(
        render(request, "bulletins/_progress.html", {"b": found, "progress": progress_of(found)})
    )
