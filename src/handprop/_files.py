"""Writing files safely: all or nothing.

A crash (or Ctrl-C, or a full disk) in the middle of a write must never leave a half-written model or
log where the good old one was. So we write a temporary file in the same directory (the same file
system, so that the rename cannot turn into a copy), flush it to disk, and ``os.replace`` it over the
target: readers see either the old file or the new one, never a mixture.
"""

import errno
import os
import tempfile

from .errors import FileWriteError


def _cannot_write(path, exc):
    """A FileWriteError naming ``path`` (not our temporary file) and what to do about it."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        why = f"it is a directory; give a file name, e.g. {os.path.join(path, os.path.basename(path) or 'out')}.npz"
    elif not os.path.isdir(directory):
        why = (f"the directory {directory} does not exist" if not os.path.exists(directory)
               else f"{directory} is not a directory")
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = f"no permission to write in {directory}"
    elif exc.errno == errno.ENOSPC:
        why = "the disk is full"
    else:
        why = exc.strerror or str(exc)
    return FileWriteError(f"{path}: cannot write the file: {why}")


def check_writable(path):
    """Raise the FileWriteError that writing ``path`` would raise, without writing anything.

    The CLI calls it before training, so that a typo in ``--out`` is reported before an hour of
    training rather than after it.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path) or not os.path.isdir(directory):
        raise _cannot_write(path, OSError(errno.ENOENT, "cannot write"))
    if not os.access(directory, os.W_OK):
        raise _cannot_write(path, PermissionError(errno.EACCES, "permission denied"))


def atomic_write(path, write):
    """Create ``path`` by calling ``write(fileobj)`` on a temporary binary file, then renaming it.

    ``write`` may raise: the temporary file is removed and the old ``path`` (if any) is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):  # os.replace would fail only after the whole file was written
        raise _cannot_write(path, IsADirectoryError(errno.EISDIR, "is a directory"))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, FileWriteError):
            raise _cannot_write(path, exc) from None
        raise


def atomic_write_text(path, text):
    """``atomic_write`` for a string, encoded as UTF-8."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
