"""Filters that read the catalogue (catalogue.yml): setup names, resolved setup rows, and the
supervisord programs of a setup. The one place where the catalogue's rules are written: the
channels_setup role uses them, and ansible.cfg adds this directory to the filter path so that the
playbooks use the same ones.

A setup row is resolved by taking the stack's `setup_defaults` under the setup's own keys, the
stack's pins under the variant's companions (a version sweep: `2016/ipc@asgi_ipc=1.4.2`), and
by filling each program's defaults (one `program`, 1 process)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

NAME = re.compile(r"^(?P<stack>[0-9A-Za-z_.-]+)/(?P<setup>[0-9A-Za-z_.-]+)(?:@(?P<variant>.+))?$")
VARIANT = re.compile(r"^(?P<package>[a-z0-9_]+)=(?P<version>[0-9A-Za-z_.+-]+)$")
PROGRAM_DEFAULTS: Mapping[str, Any] = {
    "kind": "program",
    "processes": 1,
    "processes_via": None,
    "processes_flag": "",
    "environment": {},
}
PROCESSES_VIA = (None, "numprocs", "flag", "command", "fcgi-socket")


def _stacks(catalogue: Mapping[str, Any]) -> Mapping[str, Any]:
    stacks = catalogue.get("stacks") if isinstance(catalogue, Mapping) else None
    if not isinstance(stacks, Mapping) or not stacks:
        raise AnsibleFilterError("the catalogue has no stacks (expected a mapping under 'stacks')")
    return stacks


def catalogue_stacks(catalogue: Mapping[str, Any]) -> list[str]:
    """The stack names, in the catalogue's order."""
    return [str(name) for name in _stacks(catalogue)]


def catalogue_setups(catalogue: Mapping[str, Any], stack: str | None = None) -> list[str]:
    """Every `<stack>/<setup>` name (of one stack when given), in the catalogue's order."""
    names = []
    for stack_name, row in _stacks(catalogue).items():
        if stack is not None and str(stack_name) != str(stack):
            continue
        names.extend(f"{stack_name}/{setup}" for setup in (row.get("setups") or {}))
    return names


def _split(name: str) -> tuple[str, str, str | None]:
    match = NAME.match(str(name))
    if not match:
        raise AnsibleFilterError(
            f"'{name}' is not a setup name: expected <stack>/<setup>, such as 2016/ipc"
        )
    return match["stack"], match["setup"], match["variant"]


def _plain(value: Any) -> Any:
    """A copy of the mappings and lists in value, as plain dicts and lists. Not copy.deepcopy:
    Ansible hands a filter lazy containers, whose deep copy copies their templating context too
    (a second per catalogue row in a bench run, against microseconds for the data alone)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """base with override on top; mappings merge key by key, everything else is replaced."""
    merged = _plain(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = _plain(value)
    return merged


def catalogue_merge(catalogue: Mapping[str, Any], *extras: Mapping[str, Any] | None) -> dict:
    """The catalogue with extra catalogues (files of the same shape) merged on top."""
    merged = dict(catalogue)
    for extra in extras:
        if extra:
            if not isinstance(extra, Mapping):
                raise AnsibleFilterError("an extra catalogue must be a mapping with 'stacks'")
            merged = _merged(merged, extra)
    return merged


# What a variant's companion may change of a setup's row, besides pins and environment.
VARIANT_ROW_KEYS = ("role", "channel_layer", "needs", "max_processes", "description")


def _variant(stack_row: Mapping[str, Any], stack: str, variant: str) -> dict[str, Any]:
    """What a variant brings: `<package>=<version>` of a pinned package pins that version and its
    companions; any other key (`layer=memory`) is a setting whose companion says what it changes
    (environment, channel layer, role, needs, a process limit)."""
    match = VARIANT.match(variant)
    if not match:
        raise AnsibleFilterError(
            f"'{variant}' is not a variant: expected <package>=<version>, such as asgi_ipc=1.4.2"
        )
    package, version = match["package"], match["version"]
    sweeps = stack_row.get("sweeps") or {}
    if package not in sweeps:
        swept = ", ".join(sweeps) or "none"
        raise AnsibleFilterError(
            f"stack {stack} has no sweep of {package}; what it can sweep: {swept}"
        )
    values = sweeps[package] or {}
    if version not in values:
        raise AnsibleFilterError(
            f"{package} {version} is not in stack {stack}'s sweep of {package}: "
            f"choose one of {', '.join(values)} (catalogue.yml says what each brings along)"
        )
    companion = values[version] or {}
    pinned = {package: version} if package in (stack_row.get("pins") or {}) else {}
    install_first = [str(name) for name in companion.get("install_first") or []]
    pins = {**pinned, **(companion.get("pins") or {})}
    unpinned = [name for name in install_first if name not in pins]
    if unpinned:
        raise AnsibleFilterError(
            f"stack {stack}, {variant}: install_first names {', '.join(unpinned)}, "
            "which its companion pins do not"
        )
    return {
        "pins": pins,
        "install_first": install_first,
        "environment": dict(companion.get("environment") or {}),
        "row": {key: companion[key] for key in VARIANT_ROW_KEYS if key in companion},
    }


def _program(program: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(program, Mapping) or not program.get("name") or not program.get("command"):
        raise AnsibleFilterError(f"{where}: every program needs a name and a command")
    row = _merged(PROGRAM_DEFAULTS, program)
    if row["kind"] not in ("program", "fcgi-program"):
        raise AnsibleFilterError(f"{where}: kind must be program or fcgi-program")
    if row["processes_via"] not in PROCESSES_VIA:
        raise AnsibleFilterError(
            f"{where}: processes_via must be one of numprocs, flag, command, fcgi-socket"
        )
    if row["kind"] == "fcgi-program":
        row["processes_via"] = "fcgi-socket"
    return row


def catalogue_row(catalogue: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The resolved row of one setup (see the module's docstring); fails naming the valid ones."""
    stack, setup, variant = _split(name)
    stacks = _stacks(catalogue)
    if stack not in stacks:
        raise AnsibleFilterError(
            f"Unknown stack '{stack}' in setup '{name}': choose one of {', '.join(stacks)}"
        )
    stack_row = stacks[stack]
    setups = stack_row.get("setups") or {}
    if setup not in setups:
        raise AnsibleFilterError(
            f"Unknown setup '{name}': stack {stack} has "
            f"{', '.join(catalogue_setups(catalogue, stack)) or 'no setups'}"
        )
    row = _merged(stack_row.get("setup_defaults") or {}, setups[setup] or {})
    companions = (
        _variant(stack_row, stack, variant)
        if variant
        else {"pins": {}, "install_first": [], "environment": {}, "row": {}}
    )
    stack_pins = stack_row.get("pins") or {}
    row.update(companions["row"])
    row["environment"] = {**(row.get("environment") or {}), **companions["environment"]}
    row["programs"] = [
        _program(program, f"setup {stack}/{setup}") for program in row.get("programs") or []
    ]
    if not row["programs"]:
        raise AnsibleFilterError(f"setup {stack}/{setup} has no programs")
    if not row.get("group"):
        raise AnsibleFilterError(f"setup {stack}/{setup} has no supervisord group")
    row.update(
        {
            "name": str(name),
            "stack": stack,
            "setup": setup,
            "variant": variant,
            "pins": {**stack_pins, **companions["pins"]},
            # Packages a variant brings that the stack does not pin (Twisted 17's own
            # dependencies), and those pip must install before the rest.
            "added_pins": {
                name: version
                for name, version in companions["pins"].items()
                if name not in stack_pins
            },
            "install_first": companions["install_first"],
            "python_min": stack_row.get("python_min"),
            "python_max": stack_row.get("python_max"),
            "ec2_images": [str(image) for image in stack_row.get("ec2_images") or []],
        }
    )
    return row


def catalogue_rows(catalogue: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """{name: resolved row} for several setups, in their order."""
    return {str(name): catalogue_row(catalogue, name) for name in names}


def _as_list(value: Any) -> list[str]:
    """A list of names, as -e gives it: a list, a JSON list written as text
    (-e 'setups=["2016/gunicorn","2016/ipc"]'), or names separated by commas."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError as error:
                raise AnsibleFilterError(f"{value!r} is not a list of setup names") from error
            return [str(item) for item in parsed]
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, Iterable):
        return [str(item) for item in value]
    raise AnsibleFilterError(f"expected a list of setup names, not {value!r}")


def catalogue_resolve(
    catalogue: Mapping[str, Any],
    setup: str | None = None,
    setups: Any = None,
    stack: str = "2016",
) -> list[str]:
    """The setups asked for, as `<stack>/<setup>` names in run order.

    `setups` (a list, or names separated by commas) wins over `setup`; `setup=all` is every setup
    of `stack`, and a bare name (`ipc`) is `stack`'s setup of that name. Every name is checked
    against the catalogue; a bad one fails naming the valid ones."""
    stack = str(stack)
    if stack not in _stacks(catalogue):
        raise AnsibleFilterError(
            f"Unknown stack '{stack}': choose one of {', '.join(catalogue_stacks(catalogue))}"
        )
    asked = _as_list(setups) if setups not in (None, "", []) else _as_list(setup)
    if not asked:
        raise AnsibleFilterError(
            "No setup asked for: pass -e setup=NAME (one of "
            f"{', '.join(catalogue_setups(catalogue, stack))}, or all) or "
            "-e 'setups=[\"2016/gunicorn\", ...]'"
        )
    names: list[str] = []
    for item in asked:
        if item == "all":
            names.extend(catalogue_setups(catalogue, stack))
        elif "/" in item:
            names.append(item)
        else:
            names.append(f"{stack}/{item}")
    for name in names:
        catalogue_row(catalogue, name)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AnsibleFilterError(f"setup asked for twice: {', '.join(duplicates)}")
    return names


def catalogue_sweep(
    names: list[str], sweep: Any, catalogue: Mapping[str, Any] | None = None
) -> list:
    """Each setup once per value of a version sweep: `asgi_ipc:1.1.0,1.4.2` (or a list of
    `asgi_ipc=1.4.2` items) turns 2016/ipc into 2016/ipc@asgi_ipc=1.1.0 and ...@asgi_ipc=1.4.2.
    Given the catalogue, a setup whose stack cannot sweep that is kept as it is (a run of 2016
    and 2026 setups can sweep the 2026 channel layer alone); at least one must be swept."""
    if sweep in (None, "", []):
        return list(names)
    if isinstance(sweep, str) and not sweep.strip().startswith("["):
        package, _, values = sweep.partition(":")
        variants = [f"{package.strip()}={value.strip()}" for value in values.split(",") if value]
        if not package.strip() or not variants:
            raise AnsibleFilterError(
                f"sweep '{sweep}' is not <package>:<version>,<version>..., such as "
                "asgi_ipc:1.1.0,1.4.2"
            )
    else:
        variants = _as_list(sweep)
    packages = {variant.partition("=")[0] for variant in variants}

    def sweepable(name: str) -> bool:
        if catalogue is None:
            return True
        return bool(packages & set(_stacks(catalogue)[_split(name)[0]].get("sweeps") or {}))

    if not any(sweepable(name) for name in names):
        able = [
            str(stack)
            for stack, row in _stacks(catalogue or {}).items()
            if packages & set(row.get("sweeps") or {})
        ]
        raise AnsibleFilterError(
            f"no setup asked for can sweep {', '.join(sorted(packages))}; "
            f"stacks that can: {', '.join(able) or 'none'}"
        )
    swept = []
    for name in names:
        swept.extend([f"{name}@{variant}" for variant in variants] if sweepable(name) else [name])
    if catalogue is not None:
        for name in swept:
            catalogue_row(catalogue, name)
    return swept


def _processes(
    program: Mapping[str, Any],
    overrides: Mapping[str, Any],
    cores: int,
    where: str,
    limit: int | None = None,
) -> int:
    value = overrides.get(program["name"], program["processes"])
    if value == "cores":
        value = min(cores, limit) if limit else cores
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AnsibleFilterError(f"{where}: processes must be a whole number >= 1 or 'cores'")
    if value != 1 and not program["processes_via"]:
        raise AnsibleFilterError(f"{where}: {program['name']} runs as exactly one process")
    if value > cores and program["processes_via"] in ("flag", "command", "fcgi-socket"):
        raise AnsibleFilterError(
            f"{where}: {value} {program['name']} processes is more than the {cores} cores "
            "available to the server"
        )
    if limit is not None and value > limit:
        raise AnsibleFilterError(
            f"{where}: {value} {program['name']} processes, but its channel layer works with "
            f"{limit} process{'es' if limit != 1 else ''} at most"
        )
    return value


def supervisor_programs(
    row: Mapping[str, Any],
    bind: str,
    port: int,
    cores: int = 1,
    overrides: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The setup's programs as supervisord sections: section name, rendered command, numprocs,
    process_name and socket (for fcgi-program), the names of their log files, and whether the
    program binds the port itself."""
    rendered = []
    fcgi = [program for program in row["programs"] if program["kind"] == "fcgi-program"]
    if fcgi and len(row["programs"]) > 1:
        raise AnsibleFilterError(
            f"setup {row['name']}: an fcgi-program must be its setup's only program (supervisord "
            "runs it as a group of its own, named after the setup's group)"
        )
    for program in row["programs"]:
        where = f"setup {row['name']}"
        count = _processes(program, overrides or {}, int(cores), where, row.get("max_processes"))
        fields = {"bind": bind, "port": port, "processes": count}
        command = program["command"].format(**fields)
        if count != 1 and program["processes_via"] == "flag":
            command += program["processes_flag"].format(**fields)
        copies = count if program["processes_via"] in ("numprocs", "fcgi-socket") else 1
        numbered = copies != 1 or program["kind"] == "fcgi-program"
        rendered.append(
            {
                "name": program["name"],
                # supervisord makes an fcgi-program a group of its own, which owns the socket:
                # it is named after the setup's group, and no [group:] section lists it.
                "section": (
                    f"fcgi-program:{row['group']}"
                    if program["kind"] == "fcgi-program"
                    else f"program:{program['name']}"
                ),
                "command": command,
                "processes": count,
                "numprocs": copies,
                "process_name": "%(program_name)s_%(process_num)02d" if numbered else None,
                "socket": f"tcp://{bind}:{port}" if program["kind"] == "fcgi-program" else None,
                "environment": dict(program["environment"]),
                "log": f"{program['name']}_%(process_num)02d.log" if numbered else None,
                "log_glob": f"{program['name']}*.log",
                # It binds the setup's port itself (an fcgi-program gets it from supervisord).
                "binds_port": program["kind"] == "program" and "{port}" in program["command"],
            }
        )
    return rendered


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "catalogue_stacks": catalogue_stacks,
            "catalogue_setups": catalogue_setups,
            "catalogue_merge": catalogue_merge,
            "catalogue_row": catalogue_row,
            "catalogue_rows": catalogue_rows,
            "catalogue_resolve": catalogue_resolve,
            "catalogue_sweep": catalogue_sweep,
            "supervisor_programs": supervisor_programs,
        }
