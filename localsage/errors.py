"""The one error type a user sees: a single line that says what is wrong and what to do."""


class UserError(Exception):
    """A problem the user can fix. Tasks print its message on one line and exit with `exit_code`."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code
