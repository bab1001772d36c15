"""Analysis of channels-bench results: charts, reports and run comparison.

The command line (`python -m analysis --help`) is the main interface; the same work is available
from Python through this small API. Everything else lives in private modules.
"""

from ._analysis import Analysis, analyse
from ._compare import render_comparison
from ._headline import headline
from ._load import RunReadError, load_run
from ._model import Problem, Run
from ._report import write_report

__all__ = [
    "Analysis",
    "Problem",
    "Run",
    "RunReadError",
    "analyse",
    "headline",
    "load_run",
    "render_comparison",
    "write_report",
]
