"""Strategy `mitogen_linear`: Ansible's linear strategy, with the tasks on the local connection run
through Mitogen (the `mitogen` package of requirements/controller.txt). Tasks keep their order and
their results; a module call reuses a warm interpreter instead of starting one and compiling
ansible.module_utils.basic from the module's zip each time (0.09 s a call here, not 0.37 s).

Only `local` goes through Mitogen. Every other connection (ssh to a fleet, podman under molecule)
stays Ansible's own plugin with its own options, above all the fleet's host-key rule
(StrictHostKeyChecking=accept-new with the run's known_hosts), which Mitogen's ssh would build
its own way; Mitogen's action wrapper steps aside for those connections by itself.

Modules that may respawn themselves under the system's Python (apt and dnf reach python3-apt and
libdnf that way) are run by Ansible's own action instead, over the same connection: Mitogen runs a
module inside its interpreter, where the respawn finds no AnsiballZ payload to start again
(mitogen-hq/mitogen#849, "module '__main__' has no attribute '_module_fqn'"), so that an apt
install on a fresh machine failed.

ansible.cfg names this strategy; `ANSIBLE_STRATEGY=linear` runs a playbook without Mitogen.
The imports follow Mitogen's own proxy (ansible_mitogen/plugins/strategy/mitogen_linear.py): the
real strategy loads under its canonical name, so that Ansible's plugin loader does not load it
twice.
"""

from __future__ import annotations

from typing import Any

import ansible_mitogen.loaders
import ansible_mitogen.mixins
import ansible_mitogen.strategy
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import get_with_context_result

ansible_mitogen.strategy.REDIRECTED_CONNECTION_PLUGINS = ("local",)

# Modules that call respawn_module, themselves or in a module_utils they import (ansible-core
# 2.19, and ansible.posix and community.general as the `ansible` package bundles them; a test
# scans them), and the action plugin that hands its work to one (package picks apt or dnf).
RESPAWNING_MODULES = frozenset({
    "ansible.builtin.apt", "ansible.builtin.apt_repository", "ansible.builtin.dnf",
    "ansible.builtin.dnf5", "ansible.builtin.package", "ansible.builtin.package_facts",
    "ansible.posix.firewalld", "ansible.posix.firewalld_info", "ansible.posix.seboolean",
    "ansible.posix.selinux", "community.general.copr", "community.general.dconf",
    "community.general.pip_package_info", "community.general.portage",
})  # fmt: skip

_adorned_action = ansible_mitogen.strategy.wrap_action_loader__get_with_context


def respawns(action: str) -> bool:
    """Whether a task's module (short, ansible.legacy. or fully qualified) may respawn."""
    collection, _, name = action.rpartition(".")
    if collection in ("", "ansible.legacy"):
        action = f"ansible.builtin.{name}"
    return action in RESPAWNING_MODULES


class AnsiballzActionMixin(ansible_mitogen.mixins.ActionModuleMixin):
    """Mitogen's action (its connection, files and commands), with the module built and started
    as Ansible builds and starts it: an AnsiballZ payload run by a Python of its own."""

    _configure_module = ActionBase._configure_module
    _is_pipelining_enabled = ActionBase._is_pipelining_enabled
    _execute_module = ActionBase._execute_module


def action_loader_get_with_context(name: str, *args: Any, **kwargs: Any) -> Any:
    """Mitogen's action for every task; for a module that may respawn, built on
    AnsiballzActionMixin instead of Mitogen's own mixin."""
    task = kwargs.get("task")
    if task is None or not respawns(task.resolved_action or task.action):
        return _adorned_action(name, *args, **kwargs)
    klass, context = ansible_mitogen.loaders.action_loader__get_with_context(
        name, class_only=True, collection_list=kwargs.pop("collection_list", None)
    )
    adorned = type(str(name), (AnsiballzActionMixin, klass), {})
    return get_with_context_result(adorned(*args, **kwargs), context)


# Mitogen installs its wrapper by this name when the strategy starts.
ansible_mitogen.strategy.wrap_action_loader__get_with_context = action_loader_get_with_context

Base = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):  # type: ignore[misc,valid-type]
    """Ansible's linear strategy with Mitogen's wrappers, for the local connection only."""
