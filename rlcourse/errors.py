"""The one error type the CLI turns into a single line on stderr and exit status 2."""


class UsageError(ValueError):
    """Bad input from the user: unknown name, bad value, unreadable results, refused overwrite."""
