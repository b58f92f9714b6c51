"""Writing files safely: all or nothing.

A crash (or Ctrl-C, or a full disk) in the middle of a write must never leave a half-written model or
log where the good old one was. So we write a temporary file in the same directory (the same file
system, so that the rename cannot turn into a copy), flush it to disk, and ``os.replace`` it over the
target: readers see either the old file or the new one, never a mixture.
"""

import os
import tempfile


def atomic_write(path, write):
    """Create ``path`` by calling ``write(fileobj)`` on a temporary binary file, then renaming it.

    ``write`` may raise: the temporary file is removed and the old ``path`` (if any) is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
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
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path, text):
    """``atomic_write`` for a string, encoded as UTF-8."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
