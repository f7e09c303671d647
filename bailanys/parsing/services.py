"""Reads of parsed posts for the people who improve the parser."""

import json

from bailanys.parsing.models import ParsedPost


def corrections_export():
    """Reviewed posts as labelled lines {"id", "text", lang, kind, …} for regression tests."""
    reviewed = ParsedPost.objects.filter(reviewed_at__isnull=False).order_by("pk")
    for post in reviewed.iterator(chunk_size=500):
        yield {
            "id": f"{post.source}:{post.external_id}",
            "text": post.text,
            **json.loads(post.corrected),
        }
