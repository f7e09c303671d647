"""Retention: closed cases are deleted on schedule, after their counts are tallied."""

from django.db import transaction
from django.db.models import Count, F, Q

from bailanys.privacy.models import RetentionTally
from bailanys.relay.models import Case, Request, Requester


def cases_purge(now, closed_before, hard_before) -> dict[str, int]:
    """Delete cases closed before `closed_before`, and any case made before `hard_before`.

    A case a coordinator extended (retain_until in the future) is kept. Before deleting,
    counts by day, kind and resolution are added to RetentionTally. Registered with
    privacy's purge in RelayConfig.ready.
    """
    not_extended = Q(retain_until__isnull=True) | Q(retain_until__lt=now)
    due = Case.objects.filter(
        (Q(state="closed", closed_at__lt=closed_before) | Q(created_at__lt=hard_before))
        & not_extended
    )
    total_cases = total_requests = 0
    while True:
        ids = list(due.values_list("pk", flat=True)[:500])
        if not ids:
            break
        with transaction.atomic():
            rows = (
                Request.objects.filter(case_id__in=ids)
                .values("case__created_at__date", "case__resolution", "kind")
                .annotate(requests=Count("pk"), cases=Count("case_id", distinct=True))
                .order_by()
            )
            for row in rows:
                tally, _new = RetentionTally.objects.get_or_create(
                    day=row["case__created_at__date"],
                    kind=row["kind"],
                    resolution=row["case__resolution"],
                )
                RetentionTally.objects.filter(pk=tally.pk).update(
                    cases=F("cases") + row["cases"], requests=F("requests") + row["requests"]
                )
            requester_ids = list(
                Request.objects.filter(case_id__in=ids).values_list("requester_id", flat=True)
            )
            total_requests += Request.objects.filter(case_id__in=ids).count()
            Case.objects.filter(pk__in=ids).delete()
            Requester.objects.filter(pk__in=requester_ids, requests__isnull=True).delete()
            total_cases += len(ids)
    return {"cases": total_cases, "requests": total_requests}
