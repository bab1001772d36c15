"""Strategy `mitogen_linear`: Ansible's linear strategy, with the tasks on the local connection run
through Mitogen (the `mitogen` package of requirements/controller.txt). Tasks keep their order and
their results; a module call reuses a warm interpreter instead of starting one and compiling
ansible.module_utils.basic from the module's zip each time (0.09 s a call here, not 0.37 s).

Only `local` goes through Mitogen. Every other connection (ssh to a fleet, podman under molecule)
stays Ansible's own plugin with its own options, above all the fleet's host-key rule
(StrictHostKeyChecking=accept-new with the run's known_hosts), which Mitogen's ssh would build
its own way; Mitogen's action wrapper steps aside for those connections by itself.

ansible.cfg names this strategy; `ANSIBLE_STRATEGY=linear` runs a playbook without Mitogen.
The imports follow Mitogen's own proxy (ansible_mitogen/plugins/strategy/mitogen_linear.py): the
real strategy loads under its canonical name, so that Ansible's plugin loader does not load it
twice.
"""

from __future__ import annotations

import ansible_mitogen.loaders
import ansible_mitogen.strategy

ansible_mitogen.strategy.REDIRECTED_CONNECTION_PLUGINS = ("local",)

Base = ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, Base):  # type: ignore[misc,valid-type]
    """Ansible's linear strategy with Mitogen's wrappers, for the local connection only."""
