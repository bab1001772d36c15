"""The test project on today's stack (Django 5.2, Channels 4.3, Python 3.12-3.13).

The same plain view as 2016 at "/" (testproject.views.index, shared and unchanged), plus three
WebSocket consumers; every server of the 2026 stack runs it from the project directory
(docs/stack-2026.md has the commands). The 2016 modules beside this package stay on Django 1.10.
"""
