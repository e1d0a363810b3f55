"""The one error every decoder in :mod:`aiosio.protocol` raises for bad input."""


class ParseError(ValueError):
    """Raised by any decoder for input that is not a valid packet.

    The message says what was wrong; callers close the session with reason ``parse error`` and never
    pass the packet on to application handlers.
    """
