"""One exception type for bad user input, reported as a single line."""

import functools
import sys


class InputError(Exception):
    """Bad input: names the file, the 1-based line number if any, and the problem."""

    def __init__(self, path, problem, row=None):
        self.path = str(path)
        self.row = row
        self.problem = problem
        where = self.path if row is None else f"{self.path}, line {row}"
        super().__init__(f"{where}: {problem}")


def exit_on_input_error(main):
    """Wraps a CLI main so bad input prints one line and exits with code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
