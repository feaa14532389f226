"""Domain errors: each carries a message fit to show a user as is."""


class ByteError(Exception):
    """Base for every error a user may see; the message is the whole explanation."""


class NotFound(ByteError):
    pass


class PermissionDenied(ByteError):
    pass


class Conflict(ByteError):
    """The action collides with the current state (already decided, already claimed...)."""


class InvalidInput(ByteError):
    pass
