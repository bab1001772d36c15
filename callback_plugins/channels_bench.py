"""stdout callback `channels_bench`: Ansible's default output, also kept in the run's
results/<run_id>/ansible.log; with CHANNELS_BENCH_PROGRESS=1 (as `make bench` sets it) the
terminal shows only what a person follows: the plan, one line per measurement with an ETA, each
pass's reps and flags, failures in full, and how the run ended."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any

from ansible.plugins.callback.default import CallbackModule as DefaultCallback

DOCUMENTATION = """
    name: channels_bench
    type: stdout
    short_description: default output, kept in the run's ansible.log; or one line per measurement
    description:
        - Ansible's default output, written to results/<run_id>/ansible.log as soon as the plan
          names the run (what came before is kept in memory until then).
        - On the terminal, the default output; with CHANNELS_BENCH_PROGRESS=1, the plan, a line
          per measurement (setup, test, rep, rate asked and achieved, p50/p99, errors) with an
          ETA, each pass's reps with their flags, failures, and the end of the run.
    extends_documentation_fragment:
      - default_callback
      - result_format_callback
"""

LOG_NAME = "ansible.log"


class _LogDisplay:
    """Stands in for Ansible's display: every line goes to the run's log (buffered until the run
    directory is known) and, unless `quiet`, to the real display too."""

    def __init__(self, display: Any, quiet: bool) -> None:
        self._real = display
        self._quiet = quiet
        self._buffer: list[str] = []
        self._file: Any = None
        self._run_dir: str | None = None

    def name(self, run_dir: str) -> None:
        """The run's directory, as the plan names it a few tasks before it makes it."""
        self._run_dir = run_dir

    def open(self) -> None:
        """Start writing to the run's ansible.log, once this playbook made the run's directory:
        never into a directory that was there already (another run's, whose id was given again)."""
        if self._file is not None or not self._run_dir or not os.path.isdir(self._run_dir):
            return
        descriptor = os.open(
            os.path.join(self._run_dir, LOG_NAME), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        self._file = os.fdopen(descriptor, "a", encoding="utf-8")
        self._file.write("".join(self._buffer))
        self._file.flush()
        self._buffer = []

    def _log(self, text: str) -> None:
        line = text if text.endswith("\n") else text + "\n"
        if self._file is None:
            self._buffer.append(line)
        else:
            self._file.write(line)
            self._file.flush()

    def display(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("screen_only"):
            self._log(str(msg))
        if not self._quiet and not kwargs.get("log_only"):
            self._real.display(msg, *args, **kwargs)

    def banner(self, msg: str, color: str | None = None, cows: bool = True) -> None:
        msg = str(msg).strip()
        self.display(f"\n{msg} {'*' * max(3, 79 - len(msg))}", color=color)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def measurement_line(event: Mapping[str, Any], eta_s: float | None) -> str:
    """One measurement of the driver's progress, for people."""
    what = str(event.get("test"))
    if event.get("clients"):
        what += f" c{event['clients']}"
    rep = f" rep {event['rep']}" if event.get("rep") else ""
    asked = f"{event['rps']:g} asked, " if isinstance(event.get("rps"), int | float) else ""
    achieved = event.get("achieved_rps")
    rate = f"{achieved:g} req/s" if isinstance(achieved, int | float) else "no rate"
    timing = ""
    if isinstance(event.get("p50_us"), int | float) and isinstance(
        event.get("p99_us"), int | float
    ):
        timing = f", p50 {event['p50_us'] / 1000:.2f} ms, p99 {event['p99_us'] / 1000:.2f} ms"
    errors = f", {event['errors']} errors" if event.get("errors") else ""
    eta = f"  (ETA {_duration(eta_s)})" if eta_s is not None else ""
    return (
        f"  {event.get('index', '?')}/{event.get('of', '?')} {what}{rep}: {asked}{rate}"
        f"{timing}{errors}{eta}"
    )


class CallbackModule(DefaultCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "channels_bench"

    def __init__(self) -> None:
        super().__init__()
        self._progress = os.environ.get("CHANNELS_BENCH_PROGRESS") == "1"
        self._terminal = self._display
        self._display = _LogDisplay(self._terminal, quiet=self._progress)
        self._seen_progress: dict[str, int] = {}
        # Seconds per task name, for the log's recap of where the time went.
        self._task_started: tuple[str, float] | None = None
        self._task_seconds: dict[str, float] = {}
        self._play_started: tuple[str, float] | None = None
        self._play_seconds: list[tuple[str, float]] = []
        self._pass_load: list[float] = []
        self._pass_overhead_s = 0.0
        self._pass_now = 0
        self._setup_now = ""

    # What the run says about itself, read from the facts its tasks set.

    def _facts(self, result: Any) -> Mapping[str, Any]:
        facts = result.result.get("ansible_facts") if isinstance(result.result, Mapping) else None
        return facts if isinstance(facts, Mapping) else {}

    def _learn(self, result: Any) -> None:
        facts = self._facts(result)
        if isinstance(facts.get("bench_run_dir"), str):
            self._display.name(facts["bench_run_dir"])
        # The bench_run module made the run (only its create answers with the runs it abandoned).
        if isinstance(result.result, Mapping) and "abandoned" in result.result:
            self._display.open()
        if isinstance(facts.get("bench_pass_load_s"), list):
            self._pass_load = [float(value) for value in facts["bench_pass_load_s"]]
        if "bench_pass_overhead_s" in facts:
            self._pass_overhead_s = float(facts["bench_pass_overhead_s"])
        if "bench_pass_now" in facts:
            self._pass_now = int(facts["bench_pass_now"])
            self._setup_now = str(facts.get("bench_setup_now") or "")
            if self._progress:
                passes = len(self._pass_load) or "?"
                self._say(f"[{self._setup_now}] pass {self._pass_now + 1} of {passes}")

    def _say(self, text: str) -> None:
        self._terminal.display(text)

    def _eta(self, series_left_s: float | None) -> float | None:
        if series_left_s is None or not self._pass_load:
            return series_left_s
        later = self._pass_load[self._pass_now + 1 :]
        return series_left_s + sum(later) + len(later) * self._pass_overhead_s

    def _show_progress(self, result: Any) -> None:
        stdout = result.result.get("stdout") if isinstance(result.result, Mapping) else None
        if not isinstance(stdout, str) or '"event"' not in stdout:
            return
        key = f"{result.host.get_name()}:{result.task._uuid}:{self._pass_now}"
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        for line in lines[self._seen_progress.get(key, 0) :]:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "measured":
                eta = event.get("eta_s")
                self._say(
                    measurement_line(
                        event, self._eta(eta if isinstance(eta, int | float) else None)
                    )
                )
            elif event.get("event") == "failed":
                self._say(f"  load generator failed: {event.get('message')}")
        self._seen_progress[key] = len(lines)

    # Events

    def v2_runner_on_ok(self, result: Any) -> None:
        self._learn(result)
        super().v2_runner_on_ok(result)
        if not self._progress:
            return
        self._show_progress(result)
        name = result.task.get_name()
        message = result.result.get("msg") if isinstance(result.result, Mapping) else None
        if (
            name.endswith(
                (
                    "Show the plan",
                    "Say what the pass measured",
                    "Say where the results are",
                    "Show what the report says",
                )
            )
            and message
        ):
            for line in message if isinstance(message, list) else [message]:
                self._say(str(line))

    def v2_runner_retry(self, result: Any) -> None:
        super().v2_runner_retry(result)
        if self._progress:
            self._show_progress(result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        super().v2_runner_on_failed(result, ignore_errors)
        if self._progress and not ignore_errors:
            message = result.result.get("msg", "") if isinstance(result.result, Mapping) else ""
            self._say(f"FAILED: {result.host.get_name()}: {result.task.get_name()}: {message}")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        super().v2_runner_on_unreachable(result)
        if self._progress:
            self._say(f"UNREACHABLE: {result.host.get_name()}: {result.result.get('msg', '')}")

    def _end_play(self) -> None:
        if self._play_started is not None:
            name, started = self._play_started
            self._play_seconds.append((name, time.monotonic() - started))
            self._play_started = None

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._end_task()
        self._end_play()
        self._play_started = (play.get_name(), time.monotonic())
        super().v2_playbook_on_play_start(play)
        if self._progress:
            self._started = getattr(self, "_started", time.monotonic())

    def _end_task(self) -> None:
        if self._task_started is not None:
            name, started = self._task_started
            elapsed = time.monotonic() - started
            self._task_seconds[name] = self._task_seconds.get(name, 0.0) + elapsed
            self._task_started = None

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._end_task()
        self._task_started = (task.get_name(), time.monotonic())
        super().v2_playbook_on_task_start(task, is_conditional)

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self._end_task()
        self._task_started = (task.get_name(), time.monotonic())
        super().v2_playbook_on_handler_task_start(task)

    def _time_recap(self) -> None:
        self._end_task()
        self._end_play()
        slowest = sorted(self._task_seconds.items(), key=lambda item: -item[1])[:25]
        if not slowest:
            return
        self._display.banner("WHERE THE TIME WENT (slowest tasks, all hosts and loops together)")
        for name, seconds in slowest:
            self._display.display(f"{seconds:8.1f} s  {name}")
        self._display.banner("PLAYS, IN ORDER")
        for name, seconds in self._play_seconds:
            self._display.display(f"{seconds:8.1f} s  {name}")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._time_recap()
        super().v2_playbook_on_stats(stats)
        if self._progress:
            failed = sum(stats.summarize(host)["failures"] for host in stats.processed)
            took = _duration(time.monotonic() - getattr(self, "_started", time.monotonic()))
            self._say(
                f"Ansible finished in {took}" + (f" with {failed} failed task(s)" if failed else "")
            )
