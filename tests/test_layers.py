"""The one-way house (docs/architecture.md): each layer imports only those below it.

Every module under bailanys/ (migrations aside) is read with ast, and every import in it
counts: at the top of the file, inside functions, and dotted module paths written as
strings (importlib, settings). A rule broken anywhere fails here, naming the file, the
line and the rule.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "bailanys"
FOUNDATIONS = {"privacy", "accounts", "parsing", "phones"}
# Modules of the parser's rules: plain Python, so they run and test without Django.
PARSING_RULES = {
    "cities",
    "hard",
    "kinds",
    "lang",
    "message",
    "names",
    "parser",
    "phones",
    "scam",
    "spelling",
    "telegram_export",
    "text",
}
ENTRY_FILES = {"api", "urls", "admin", "forms", "wsgi", "cli", "settings", "__main__"}
ENTRY_TOP = {
    "api",
    "urls",
    "cli",
    "wsgi",
    "settings",
    "__main__",
    "middleware",
    "benchbare",
    "static_files",
    "form_rendering",
}
MODULE_STRING = re.compile(r"bailanys(?:\.\w+)+")
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    """foundation, outbox, relay, channels, conversations or entry."""
    parts = module.split(".")
    if len(parts) == 1:
        return "entry"  # bailanys/__init__.py
    top = parts[1]
    if len(parts) == 2 and top in ENTRY_TOP:
        return "entry"
    last = parts[-1]
    if (
        last.startswith("views")
        or last in ENTRY_FILES
        or "management" in parts
        or "templatetags" in parts
    ):
        return "entry"
    if top in FOUNDATIONS:
        return "foundation"
    if top in ("proxies", "bulletins", "outages"):
        return "relay"  # the relay core's sibling (design.md, "Layers, one way")
    if top in ("outbox", "relay", "channels", "conversations"):
        return top
    raise AssertionError(f"{module}: no layer; add it to tests/test_layers.py")


# What each layer may import (besides itself and the standard library and packages).
ALLOWED = {
    "foundation": {"foundation"},
    "outbox": {"foundation", "outbox"},
    "relay": {"foundation", "outbox", "relay"},
    "channels": {"foundation", "outbox", "channels"},
    "conversations": {"foundation", "outbox", "relay", "channels", "conversations"},
    "entry": {"foundation", "outbox", "relay", "channels", "conversations", "entry"},
}


def resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every bailanys module the file names, however it names it."""
    module = module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, path, node)
            if target == "bailanys":
                # "from bailanys import phones": each name is a module.
                found += [(node.lineno, f"bailanys.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            # A dotted path to a real module (not a logger's name, say).
            and MODULE_STRING.fullmatch(node.value)
            and module_exists(node.value)
        ):
            found.append((node.lineno, node.value))
    return [(line, name) for line, name in found if name.split(".")[0] == "bailanys"]


def sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "migrations" not in p.parts)


def module_of(name: str) -> str | None:
    """The module a dotted name lives in (it may end in a class or function), or None."""
    parts = name.split(".")
    while len(parts) > 1:
        candidate = ROOT.parent.joinpath(*parts)
        if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
            return ".".join(parts)
        parts.pop()
    return None


def module_exists(name: str) -> bool:
    return module_of(name) is not None


def target_layer(name: str) -> str:
    return layer(module_of(name) or name)


def violations() -> list[str]:
    found = []
    for path in sources():
        module = module_name(path)
        mine = layer(module)
        for line, name in imports_of(path):
            theirs = target_layer(name)
            where = f"{path.relative_to(ROOT.parent)}:{line}"
            if theirs not in ALLOWED[mine]:
                found.append(f"{where}: {mine} module imports {name} ({theirs})")
            elif mine == "channels" and name.startswith("bailanys.parsing"):
                found.append(f"{where}: a channel imports the parser {name}")
    return found


def test_each_layer_imports_only_the_layers_below_it():
    assert violations() == []


def test_nothing_but_an_entry_point_imports_an_entry_point():
    found = []
    for path in sources():
        mine = layer(module_name(path))
        for line, name in imports_of(path):
            if mine != "entry" and target_layer(name) == "entry":
                found.append(f"{path.relative_to(ROOT.parent)}:{line} imports {name}")
    assert found == []


def test_the_parsers_rules_run_without_django():
    found = []
    for path in sorted((ROOT / "parsing").glob("*.py")):
        if path.stem not in PARSING_RULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith("django")]
    assert found == []


def test_no_module_is_longer_than_600_lines():
    long = {
        str(path.relative_to(ROOT.parent)): n
        for path in sources()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("from bailanys.relay.services import claim_release\n", "relay"),
        ("def f():\n    from bailanys.conversations import sms\n", "conversations"),
        ("import importlib\nimportlib.import_module('bailanys.relay.models')\n", "relay"),
    ],
)
def test_the_check_catches_a_channel_that_reaches_up(tmp_path, monkeypatch, source, rule):
    """The check itself can fail: a channel module that imports the core or a
    conversation, at the top, inside a function or by name, is reported."""
    planted = ROOT / "channels" / "_planted_for_test.py"
    planted.write_text(source)
    try:
        found = violations()
    finally:
        planted.unlink()
    assert any("_planted_for_test.py" in v and f"({rule})" in v for v in found), found
