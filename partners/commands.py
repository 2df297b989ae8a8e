"""What every management command with ``--json`` shares.

DESIGN.md: "JSON printed by a command is one object on stdout; errors go to stderr with a non-zero
exit." Logging already goes to stderr; what the work itself might print (Django's console mail
backend when a task runs in the process, a library's progress) is sent to stderr too.
"""

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr(enabled: bool = True) -> Iterator[None]:
    """While ``enabled``, whatever writes to ``sys.stdout`` writes to ``sys.stderr`` instead.

    A command wraps its work in this when ``--json`` is given and writes its one JSON object
    with ``self.stdout`` afterwards (``BaseCommand`` bound ``self.stdout`` to the real stdout
    before ``handle`` ran, so the object still goes there).
    """
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield
