"""Telegram's webhook, and the console page where a volunteer links their Telegram."""

import json
import logging

from django.contrib.auth.decorators import login_required
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from telegram import Update

from bailanys.channels.telegram.adapter import TelegramChannel
from bailanys.channels.telegram.inbound import update_receive
from bailanys.conversations.telegram.volunteers import link_code_new

logger = logging.getLogger("bailanys.telegram")


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    """POST /channels/telegram/webhook: the secret header first, then the update, once."""
    if not TelegramChannel().verify_webhook(request):
        return HttpResponse(status=403)
    try:
        data = json.loads(request.body)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("no update_id")
        update = Update.de_json(data, None)
    except Exception as exc:  # hostile or broken input: say so, keep nothing
        return JsonResponse({"error": f"not a Telegram update ({type(exc).__name__})"}, status=400)
    try:
        answer = update_receive(update)
    except (OperationalError, InterfaceError):
        # The database could not take it now (a deadlock, a lock timeout, a lost
        # connection) and rolled it back, update_id included: Telegram sends an update
        # again until it gets a 2xx, so it is handled later, once, instead of lost.
        logger.warning("telegram update %s: database busy, asked to resend", data["update_id"])
        return HttpResponse(status=503, headers={"Retry-After": "1"})
    except Exception:
        # Answering with an error would make Telegram re-send it forever and hold the
        # updates behind it; the failure is logged (ids only) and the update dropped.
        logger.exception("telegram update %s failed", data["update_id"])
        return HttpResponse(status=200)
    if answer:
        return JsonResponse(answer)
    return HttpResponse(status=200)


@login_required
def link(request: HttpRequest) -> HttpResponse:
    """GET: how to link; POST: a new one-time code for /link."""
    code = link_code_new(user=request.user) if request.method == "POST" else None
    response = render(request, "channels/telegram_link.html", {"code": code})
    response["Cache-Control"] = "no-store"
    return response
