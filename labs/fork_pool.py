"""A lab's independent fits shared with helper processes forked from the lab's own (Linux, CPU). Torch-free.

    accuracies = ctx.run_all(lambda seed: score(train(arm, seed)), seeds)   # see LabContext.run_all

Arms, seeds and grid points are independent experiments: each reseeds and builds its own model, so an item
gives the same numbers in whichever process runs it. Each process, the lab's own included, claims the next
item nobody has taken, until none is left; a helper sends back what the item reported (its curve and
epoch rows, through `LabContext`) and its result, pickled. An item a helper did not return (its result
would not pickle, it raised, or the helper was killed) is run again by the lab's process, so an error
surfaces as it would have without helpers. Every helper is killed when the call returns or raises, a
cancelled run included; a helper also dies with the lab's process.

`CARDLAB_LAB_HELPERS=N` sets the number of helpers (default: one per spare core; 0: every fit in the lab's
process).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Message = tuple[Any, ...]

HELPERS_ENV = "CARDLAB_LAB_HELPERS"
WAIT_SECONDS = 0.1  # how often the lab's process, waiting for helpers, checks whether the run was cancelled
# A helper yields to the app (and the lab's own process) when they need a core: on 2 cores, at equal
# priority, a key press on the lab screen waited up to 145 ms for the CPU during a run with a helper.
HELPER_NICENESS = 10
# The item counter's lock is held for microseconds; waiting this long means a process died holding it (the
# OOM killer): the lab's process then runs whatever nobody returned, as after any helper's death.
CLAIM_TIMEOUT = 5.0
_RESULT = "result"


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS says, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def helper_count(items: int, threads_per_fit: int) -> int:
    """Helpers to fork for `items` fits: `CARDLAB_LAB_HELPERS` where set, else one per spare core; never
    more than the items need, none for fits on several threads (a forked OpenMP thread pool is not safe to
    use), none off Linux (fork is not safe with every runtime there)."""
    if threads_per_fit != 1 or not sys.platform.startswith("linux"):
        return 0
    asked = os.environ.get(HELPERS_ENV, "").strip()
    wanted = int(asked) if asked.isdigit() else usable_cores() - 1
    return max(min(wanted, items - 1), 0)


def kill_with_parent() -> bool:
    """On Linux, ask the kernel to SIGKILL this process when its parent dies (even by SIGKILL). False where
    it cannot be asked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        return libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class ForkPool(Generic[Item, Result]):
    """`run(item)` for every item, on this process and `helpers` forked ones.

    `become_helper(send)`: called in each helper right after the fork, to route what its fits report
    through `send` (a picklable message tuple); `on_message(helper, message)` gets those messages in this
    process, tagged with the helper's number. `check_cancelled()` raises to stop the whole call.
    """

    def __init__(
        self,
        run: Callable[[Item], Result],
        items: Sequence[Item],
        helpers: int,
        become_helper: Callable[[Callable[[Message], None]], None],
        on_message: Callable[[int, Message], None],
        check_cancelled: Callable[[], None],
    ) -> None:
        self._run = run
        self._items = list(items)
        self._helper_total = helpers
        self._become_helper = become_helper
        self._on_message = on_message
        self._check_cancelled = check_cancelled
        self._next = multiprocessing.get_context("fork").Value("q", 0)
        self._results: dict[int, Result] = {}
        self._inboxes: dict[Connection, int] = {}  # a helper's open pipe -> its number
        self._pids: list[int] = []

    def map(self) -> list[Result]:
        try:
            for number in range(self._helper_total):
                self._start_helper(number)
            while (index := self._claim()) is not None:
                self._results[index] = self._run(self._items[index])
            self._wait_for_helpers()
            for index, item in enumerate(self._items):  # what a helper took and did not return
                if index not in self._results:
                    self._results[index] = self._run(item)
        finally:
            self._stop_helpers()
        return [self._results[index] for index in range(len(self._items))]

    def receive(self) -> None:
        """Take in whatever the helpers have sent so far, without waiting (called between this process's
        own steps, so the chart and progress follow every process's fits as they train)."""
        for inbox in wait(list(self._inboxes), timeout=0):
            self._read(inbox)  # type: ignore[arg-type]

    # -- helpers ---------------------------------------------------------------------------------------

    def _claim(self) -> int | None:
        lock = self._next.get_lock()
        if not lock.acquire(timeout=CLAIM_TIMEOUT):
            return None
        try:
            index = int(self._next.value)
            if index >= len(self._items):
                return None
            self._next.value = index + 1
            return index
        finally:
            lock.release()

    def _start_helper(self, number: int) -> None:
        """A bare fork, not multiprocessing's Process: that one closes stdin in the child, which hangs when
        another thread of this process (the worker's command reader) is blocked reading it."""
        inbox, outbox = Pipe(duplex=False)
        with warnings.catch_warnings():  # Python 3.12+ warns about forking a process with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            code = 1
            try:
                self._helper_main(inbox, outbox)
                code = 0
            finally:
                os._exit(code)  # no atexit handlers, no flushing of buffers the lab's process owns
        outbox.close()  # only the helper writes: its exit closes the pipe, which this process then reads
        self._inboxes[inbox] = number
        self._pids.append(pid)

    def _helper_main(self, inbox: Connection, outbox: Connection) -> None:
        inbox.close()
        for other in self._inboxes:  # earlier helpers' pipes, inherited at the fork
            other.close()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # ctrl+c reaches the lab's process, which stops us
        kill_with_parent()
        os.nice(HELPER_NICENESS)
        self._become_helper(outbox.send)
        try:
            while (index := self._claim()) is not None:
                outbox.send((_RESULT, index, self._run(self._items[index])))
        except BaseException:  # noqa: BLE001 - the lab's process runs the item again and meets the error itself
            pass
        finally:
            outbox.close()

    def _read(self, inbox: Connection) -> None:
        number = self._inboxes[inbox]
        try:
            while inbox.poll():
                message = inbox.recv()
                if message[0] == _RESULT:
                    self._results[message[1]] = message[2]
                else:
                    self._on_message(number, message)
        except (EOFError, OSError):
            del self._inboxes[inbox]
            inbox.close()

    def _wait_for_helpers(self) -> None:
        while self._inboxes:
            self._check_cancelled()
            for inbox in wait(list(self._inboxes), timeout=WAIT_SECONDS):
                self._read(inbox)  # type: ignore[arg-type]

    def _stop_helpers(self) -> None:
        for pid in self._pids:
            try:
                os.kill(pid, signal.SIGKILL)  # done or not: its item is either returned or not needed
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for inbox in self._inboxes:
            inbox.close()
        self._inboxes.clear()
