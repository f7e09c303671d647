"""bailanys parse [FILE] [--no-ner]: JSON lines {"id", "text"} in, parsed JSON lines out."""

import json
import sys

from django.core.management.base import BaseCommand

from bailanys.parsing.parser import parse


class Command(BaseCommand):
    stealth_options = ("stdin",)
    help = 'Parse JSON lines {"id", "text"} from FILE or stdin; one JSON line out per line in.'

    def add_arguments(self, parser):
        parser.add_argument(
            "file",
            nargs="?",
            help="JSONL file (default: stdin), or export-corrections to print reviewed posts",
        )
        parser.add_argument("--no-ner", action="store_true", help="rules only, no NER")

    def handle(self, *args, **options):
        ner = not options["no_ner"]
        path = options.get("file")
        if path == "export-corrections":
            # `bailanys parse export-corrections`: what reviewers confirmed, as
            # labelled lines for regression tests.
            from bailanys.parsing.services import corrections_export

            for line in corrections_export():
                self.stdout.write(json.dumps(line, ensure_ascii=False))
            return
        stream = (
            open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
            if path
            else (options.get("stdin") or sys.stdin)
        )
        try:
            for raw in stream:
                if not raw.strip():
                    continue
                self.stdout.write(json.dumps(self._one(raw, ner), ensure_ascii=False))
        finally:
            if path:
                stream.close()

    @staticmethod
    def _one(raw: str, ner: bool) -> dict:
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            return {"id": None, "error": f"invalid JSON: {exc.msg}"}
        if not isinstance(obj, dict):
            return {"id": None, "error": "line is not a JSON object"}
        rid = obj.get("id")
        text = obj.get("text")
        if not isinstance(text, str):
            return {"id": rid, "error": "missing or non-string 'text'"}
        return {"id": rid, **parse(text, ner=ner)}
