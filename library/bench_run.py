#!/usr/bin/python
"""Ansible module bench_run: merge changes into a run's run.json in one step, atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]

DOCUMENTATION = r"""
---
module: bench_run
short_description: Merge changes into results/<run_id>/run.json atomically
description:
  - Reads run.json, merges C(update) into it (mappings key by key, anything else replaced; a
    list given under C(append) is extended instead, keeping its order and leaving out what it
    holds already), and writes it to a temporary file renamed over the old one, so that no
    reader ever sees half a file.
  - Runs on the controller (localhost).
options:
  path:
    description: The run.json to change.
    type: path
    required: true
  update:
    description: Values to merge in.
    type: dict
    default: {}
  append:
    description: Lists to extend, by top-level key (such as setups_completed).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Count a setup as measured
  bench_run:
    path: "{{ bench_run_dir }}/run.json"
    append: {setups_completed: ["2016/ipc"]}
  delegate_to: localhost
"""

RETURN = r"""
run:
  description: run.json as written.
  type: dict
  returned: success
"""


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def extend(base: Mapping[str, Any], append: Mapping[str, Any]) -> dict[str, Any]:
    extended = dict(base)
    for key, items in append.items():
        current = list(extended.get(key) or [])
        extended[key] = current + [item for item in items if item not in current]
    return extended


def write_atomically(path: str, data: Mapping[str, Any]) -> None:
    directory = os.path.dirname(path) or "."
    descriptor, temporary = tempfile.mkstemp(prefix=".run-", suffix=".json", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2) + "\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "update": {"type": "dict", "default": {}},
            "append": {"type": "dict", "default": {}},
        },
        supports_check_mode=False,
    )
    path = module.params["path"]
    try:
        with open(path, encoding="utf-8") as handle:
            run = json.load(handle)
    except (OSError, ValueError) as error:
        module.fail_json(msg=f"cannot read {path}: {error}")
    changed = extend(merge(run, module.params["update"]), module.params["append"])
    if changed != run:
        write_atomically(path, changed)
    module.exit_json(changed=changed != run, run=changed)


if __name__ == "__main__":
    main()
