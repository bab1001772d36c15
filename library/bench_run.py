#!/usr/bin/python
"""Ansible module bench_run: merge changes into a run's run.json in one step, atomically."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible.module_utils.channels_bench_runs import (  # type: ignore[import-untyped]
    create,
    write,
)

DOCUMENTATION = r"""
---
module: bench_run
short_description: Merge changes into results/<run_id>/run.json atomically
description:
  - With C(create), makes a new run instead - the results directory, runs of dead controllers
    closed as abandoned, the run's own directory made exclusively (it fails when it exists),
    run.json written and results/latest pointed at it - in one step.
  - Otherwise reads run.json, merges C(update) into it (mappings key by key, anything else
    replaced; a list given under C(append) is extended instead, keeping its order and leaving out
    what it holds already), and writes it to a temporary file renamed over the old one, so that
    no reader ever sees half a file.
  - Runs on the controller (localhost).
options:
  path:
    description: The run.json to change, or to create (results/<run_id>/run.json).
    type: path
    required: true
  create:
    description: The new run's run.json; C(path) must not exist yet.
    type: dict
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
abandoned:
  description: The runs closed as abandoned before a new one was created.
  type: list
  elements: str
  returned: when creating
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


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "create": {"type": "dict"},
            "update": {"type": "dict", "default": {}},
            "append": {"type": "dict", "default": {}},
        },
        supports_check_mode=False,
    )
    path = module.params["path"]
    if module.params["create"] is not None:
        run_dir = Path(path).parent
        try:
            abandoned = create(run_dir.parent, run_dir.name, module.params["create"])
        except FileExistsError:
            module.fail_json(msg=f"{run_dir} exists already: a run never writes into another")
        except OSError as error:
            module.fail_json(msg=f"{error.strerror or error}: {error.filename or run_dir}")
        module.exit_json(changed=True, abandoned=abandoned, run=module.params["create"])
    try:
        with open(path, encoding="utf-8") as handle:
            run = json.load(handle)
    except (OSError, ValueError) as error:
        module.fail_json(msg=f"cannot read {path}: {error}")
    changed = extend(merge(run, module.params["update"]), module.params["append"])
    if changed != run:
        write(Path(path), changed)
    module.exit_json(changed=changed != run, run=changed)


if __name__ == "__main__":
    main()
