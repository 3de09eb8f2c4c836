"""Errors raised by animecli's core. Only the CLI turns them into exit codes."""


class AnimeError(Exception):
    """Base class of every error animecli reports to the user as one line."""

    hint: str = ""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        if hint:
            self.hint = hint


class InvalidInputError(AnimeError, ValueError):
    """A user-supplied file or option is not usable."""


class DeviceUnavailableError(AnimeError, RuntimeError):
    """The requested device (gpu, ascend) is not available."""


class CheckpointFormatError(AnimeError, ValueError):
    """A weights file is of an unknown format, truncated or corrupt."""


class UnsafeCheckpointError(CheckpointFormatError):
    """A pickle inside a weights file asks for code that is not plain data."""


class IncompatibleCheckpointError(AnimeError, ValueError):
    """A checkpoint holds another network: missing, unexpected or mis-shaped names."""

    def __init__(self, message: str, missing=(), unexpected=(), mismatched=()):
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)
        details = []
        if self.missing:
            details.append(f"missing {_preview(self.missing)}")
        if self.unexpected:
            details.append(f"unexpected {_preview(self.unexpected)}")
        if self.mismatched:
            details.append(f"wrong shape {_preview(self.mismatched)}")
        super().__init__(message + (": " + "; ".join(details) if details else ""))


class UnknownWeightsError(AnimeError, KeyError):
    """A style / weight name that the registry does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class WeightsNotCachedError(AnimeError, FileNotFoundError):
    """Offline and the named weights are not in the cache."""


class DownloadError(AnimeError, OSError):
    """A download failed (HTTP error, timeout, too many retries)."""


class ChecksumMismatchError(AnimeError, ValueError):
    """A downloaded or cached file does not have the expected size or hash."""


class TrainingDivergedError(AnimeError, FloatingPointError):
    """A training loss became NaN or infinite; the last good checkpoint is kept."""


def _preview(names, limit: int = 4) -> str:
    shown = ", ".join(str(n) for n in names[:limit])
    more = len(names) - limit
    return shown + (f" (+{more} more)" if more > 0 else "")
