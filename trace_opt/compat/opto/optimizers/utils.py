"""Trace's ``print_color``."""

_COLORS = {"red": 31, "green": 32, "yellow": 33, "blue": 34, "magenta": 35, "cyan": 36}


def print_color(message: str, color: str = None, logger=None) -> None:
    code = _COLORS.get(color or "", 0)
    text = f"\033[{code}m{message}\033[0m" if code else str(message)
    if logger is not None:
        logger.info(message)
    print(text)


__all__ = ["print_color"]
