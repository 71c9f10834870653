"""The failure the conformance kit raises."""


class ConformanceError(AssertionError):
    """A component broke genmod's interface contract; the message names the rule."""


def require(condition: bool, who: str, message: str) -> None:
    """Raise :class:`ConformanceError` with ``who: message`` unless ``condition`` holds."""
    if not condition:
        raise ConformanceError(f"{who}: {message}")
