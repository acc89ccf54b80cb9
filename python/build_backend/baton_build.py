"""A PEP 517 build backend for the Baton client, standard library only.

Why not setuptools: ``pip install ./python`` builds in an isolated environment into which pip
must first download the backend (setuptools, and wheel for older setuptools). Offline that
fails. This backend needs nothing but Python itself, so the package installs offline, with or
without build isolation. It builds a pure-Python wheel of ``baton/``, an sdist, and an editable
wheel (a ``.pth`` file pointing at this folder).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "baton"


def _project() -> dict:
    """``name``, ``version``, ``description`` and ``requires-python`` of pyproject.toml's [project]."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    section = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    fields = {}
    for key in ("name", "version", "description", "requires-python"):
        found = re.search(rf'^{key}\s*=\s*"([^"]*)"', section.group(1) if section else "", re.M)
        if found:
            fields[key] = found.group(1)
    return fields


def _dist_name() -> str:
    return re.sub(r"[-_.]+", "_", _project()["name"])


def _metadata() -> str:
    p = _project()
    lines = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {p['version']}"]
    if "description" in p:
        lines.append(f"Summary: {p['description']}")
    if "requires-python" in p:
        lines.append(f"Requires-Python: {p['requires-python']}")
    readme = os.path.join(ROOT, "README.md")
    if os.path.exists(readme):
        lines.append("Description-Content-Type: text/markdown")
        with open(readme, encoding="utf-8") as f:
            return "\n".join(lines) + "\n\n" + f.read()
    return "\n".join(lines) + "\n"


def _package_files() -> list:
    out = []
    for folder, dirs, files in os.walk(os.path.join(ROOT, PACKAGE)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".typed")):
                full = os.path.join(folder, name)
                out.append((full, os.path.relpath(full, ROOT).replace(os.sep, "/")))
    return out


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory: str, files: list) -> str:
    """A wheel of ``files`` (``(arcname, bytes)``) plus its dist-info; returns its file name."""
    name, version = _dist_name(), _project()["version"]
    info = f"{name}-{version}.dist-info"
    files = list(files) + [
        (f"{info}/METADATA", _metadata().encode()),
        (
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: baton_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (f"{info}/top_level.txt", f"{PACKAGE}\n".encode()),
    ]
    record = [_record_line(arc, data) for arc, data in files] + [f"{info}/RECORD,,"]
    filename = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as whl:
        for arc, data in files:
            whl.writestr(arc, data)
        whl.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = []
    for full, arc in _package_files():
        with open(full, "rb") as f:
            files.append((arc, f.read()))
    return _write_wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, [(f"{_dist_name()}.pth", (ROOT + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    name, version = _dist_name(), _project()["version"]
    base = f"{name}-{version}"
    filename = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        extra = [os.path.join(ROOT, f) for f in ("pyproject.toml", "README.md", "build_backend/baton_build.py")]
        for full in [f for f in extra if os.path.exists(f)] + [full for full, _ in _package_files()]:
            tar.add(full, arcname=f"{base}/{os.path.relpath(full, ROOT)}")
        pkg_info = _metadata().encode()
        entry = tarfile.TarInfo(f"{base}/PKG-INFO")
        entry.size = len(pkg_info)
        tar.addfile(entry, io.BytesIO(pkg_info))
    return filename
