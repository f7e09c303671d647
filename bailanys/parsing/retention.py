"""Retention of free-text posts."""

from django.db.models import Q

from bailanys.parsing.models import ParsedPost


def posts_purge(now, done_before, hard_before) -> dict[str, int]:
    """Free-text posts: kept like closed cases once handled, never past the hard limit."""
    handled = Q(created_at__lt=done_before) & ~Q(state=ParsedPost.State.REVIEW)
    deleted, _per_model = ParsedPost.objects.filter(
        handled | Q(created_at__lt=hard_before)
    ).delete()
    return {"posts": deleted}
