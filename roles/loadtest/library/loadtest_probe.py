#!/usr/bin/python
"""Ansible module: everything the loadtest role needs to know about a source host, looked at in
one call, its commands run side by side (node, npm, the driver's imports, dpkg and wrk each start
a process of their own: one task each cost some 0.1 to 0.4 s of a warm run)."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]

DOCUMENTATION = r"""
module: loadtest_probe
short_description: Look at a source host's Node.js, npm, loadtest tree, tools and wrk in one call
description:
  - Changes nothing. Runs node --version, npm --version, the driver's import check (as the
    account, in the loadtest directory), dpkg-query for wrk's packages and wrk -v at the same
    time, reads the installed loadtest version from its package.json, and looks for timeout and
    taskset on the PATH.
options:
  root:
    description: The loadtest directory (package.json, node_modules, the driver).
    type: path
    required: true
  as_user:
    description: Argument vector that runs a command as the account (runuser -u X --), or empty.
    type: list
    elements: str
    default: []
  node_min_version:
    description: The oldest Node.js the loadtest release runs on.
    type: str
    required: true
  need_taskset:
    description: Whether taskset must be there too (the generator is pinned to CPUs).
    type: bool
    default: false
  import_check:
    description: An ES module script that exits non-zero unless the driver's imports load.
    type: str
    required: true
  wrk_packages:
    description: The OS packages of wrk to ask dpkg about; empty asks nothing.
    type: list
    elements: str
    default: []
"""

RETURN = r"""
node_version:
  description: node --version (v20.1.0), empty without node.
  type: str
node_ok:
  description: node is there and at least node_min_version.
  type: bool
npm_ok:
  description: npm --version succeeds.
  type: bool
missing_tools:
  description: timeout, and taskset when needed, where they are not on the PATH.
  type: list
modules_owner:
  description: Owner of root/node_modules, null without it.
  type: str
installed_version:
  description: The installed loadtest's version, empty without it.
  type: str
imports_ok:
  description: The driver's imports load (false without node or node_modules).
  type: bool
wrk_packages_installed:
  description: Every one of wrk_packages is installed; null when none was asked about.
  type: bool
wrk_version:
  description: wrk's version (4.1.0), null without wrk.
  type: str
"""

WRK_VERSION = re.compile(r"wrk\s+(?:\S*/)?v?([0-9]+\.[0-9]+\.[0-9]+)")
DPKG_FORMAT = "-f=${db:Status-Abbrev}\n"


def version_tuple(version: str) -> tuple[int, ...]:
    """'v20.1.0' -> (20, 1, 0); the numbers before anything else ('18.19.0-rc1' -> (18, 19, 0))."""
    match = re.match(r"v?([0-9]+(?:\.[0-9]+)*)", version.strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def at_least(version: str, minimum: str) -> bool:
    found = version_tuple(version)
    return bool(found) and found >= version_tuple(minimum)


def wrk_version(output: str) -> str | None:
    """`wrk -v` prints "wrk debian/4.1.0-3+b2 [epoll] ..." (and exits 1)."""
    match = WRK_VERSION.search(output)
    return match.group(1) if match else None


def installed_version(root: str) -> str:
    try:
        path = os.path.join(root, "node_modules/loadtest/package.json")
        with open(path, encoding="utf-8") as file:
            return str(json.load(file).get("version", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def owner(path: str) -> str | None:
    try:
        uid = os.stat(path).st_uid
    except OSError:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def start(argv: Sequence[str], cwd: str | None = None) -> subprocess.Popen[str] | None:
    """The command started, or None when its program is not there."""
    try:
        return subprocess.Popen(
            list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    except OSError:
        return None


def finish(process: subprocess.Popen[str] | None, timeout: float = 120) -> tuple[int, str]:
    """Exit status and output; 127 for a command that could not start."""
    if process is None:
        return 127, ""
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return 124, output
    return process.returncode, output


def probe(params: dict[str, Any]) -> dict[str, Any]:
    root = params["root"]
    modules = os.path.join(root, "node_modules")
    processes = {
        "node": start(["node", "--version"]),
        "npm": start(["npm", "--version"]),
        "wrk": start(["wrk", "-v"]),
    }
    if os.path.isdir(modules):
        check = ["node", "--input-type=module", "-e", params["import_check"]]
        processes["imports"] = start([*params["as_user"], *check], cwd=root)
    if params["wrk_packages"]:
        processes["dpkg"] = start(["dpkg-query", "-W", DPKG_FORMAT, *params["wrk_packages"]])
    done = {name: finish(process) for name, process in processes.items()}
    node_rc, node_out = done["node"]
    node_version = node_out.strip() if node_rc == 0 else ""
    tools = ["timeout"] + (["taskset"] if params["need_taskset"] else [])
    wrk_installed = None
    if "dpkg" in done:
        states = done["dpkg"][1].split()
        wrk_installed = states.count("ii") >= len(params["wrk_packages"])
    return {
        "node_version": node_version,
        "node_ok": at_least(node_version, params["node_min_version"]),
        "npm_ok": done["npm"][0] == 0,
        "missing_tools": [tool for tool in tools if shutil.which(tool) is None],
        "modules_owner": owner(modules),
        "installed_version": installed_version(root),
        "imports_ok": bool(node_version) and done.get("imports", (1, ""))[0] == 0,
        "wrk_packages_installed": wrk_installed,
        "wrk_version": wrk_version(done["wrk"][1]),
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path", "required": True},
            "as_user": {"type": "list", "elements": "str", "default": []},
            "node_min_version": {"type": "str", "required": True},
            "need_taskset": {"type": "bool", "default": False},
            "import_check": {"type": "str", "required": True},
            "wrk_packages": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    module.exit_json(changed=False, **probe(module.params))


if __name__ == "__main__":
    main()
