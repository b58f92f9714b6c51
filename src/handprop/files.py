"""Writing files safely: all or nothing.

A crash (or Ctrl-C, or a full disk) in the middle of a write must never leave a half-written model or
log where the good old one was. So we write a temporary file in the same directory (the same file
system, so that the rename cannot turn into a copy), flush it to disk, and ``os.replace`` it over the
target: readers see either the old file or the new one, never a mixture.

Two more rules, because a rename replaces whatever was there:

* A file whose permission bits do not let the user write it in place (``chmod a-w``, mode 444) is
  not replaced: the rename would silently defeat the protection. The bits decide, as they do for
  any user other than root: the owner's bit if the file is the user's, the group's if the user is
  in its group, else the others' bit. Root, whom the system lets write anything, is held to the
  bits too: a file with no write bit at all (a statement that it should not be rewritten) is not
  replaced; one that somebody may write is.
* The temporary file is named ``.<name>.<pid>.<random>.tmp``. A process killed mid-write leaves it
  behind; the next write to the same path removes those left by processes that no longer run (a
  live writer's file is left alone).
"""

import errno
import os
import re
import shlex
import stat
import tempfile

import numpy as np

from .errors import FileFormatError, FileWriteError, HandpropTypeError, HandpropValueError


def _cannot_write(path, exc):
    """A FileWriteError naming ``path`` (not our temporary file) and what to do about it."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        name = os.path.basename(os.path.normpath(path))
        example = os.path.join(path, (name if name not in ("", ".", "..", os.sep) else "model") + ".npz")
        why = f"it is a directory; give a file name, e.g. {example}"
    elif not os.path.isdir(directory):
        why = (f"the directory {directory} does not exist" if not os.path.exists(directory)
               else f"{directory} is not a directory")
    elif isinstance(exc, _ReadOnly) and exc.mine:
        why = (f"it is read-only (mode {exc.mode:04o}), and handprop does not replace a file you could not "
               f"write in place; make it writable first (chmod u+w {_quote(path)}) or write elsewhere")
    elif isinstance(exc, _ReadOnly):
        why = (f"it is read-only to you (mode {exc.mode:04o}) and belongs to another user; handprop does not "
               "replace a file you could not write in place: write elsewhere")
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = f"no permission to write in {directory}"
    elif exc.errno == errno.ENOSPC:
        why = "the disk is full"
    else:
        why = exc.strerror or str(exc)
    return FileWriteError(f"{path}: cannot write the file: {why}")


class _ReadOnly(PermissionError):
    def __init__(self, mode, mine):
        super().__init__(errno.EACCES, "read-only file")
        self.mode, self.mine = mode, mine  # mine: the user may chmod it (owner, or root)


def _quote(path):
    """``path`` as a shell word: quoted, and not taken for an option."""
    return shlex.quote(os.path.join(".", path) if path.startswith("-") else path)


def check_path_argument(path, name="path"):
    """``path`` (a str or os.PathLike) as a str; a HandpropTypeError for anything else."""
    if isinstance(path, (str, bytes, os.PathLike)):
        path = os.fsdecode(os.fspath(path))
        if not path:
            raise HandpropValueError(f"{name} is empty: give a file name")
        return path
    raise HandpropTypeError(f"{name} must be a file name (a str or os.PathLike), got {type(path).__name__}"
                            + ("; handprop reads and writes files by name: write the bytes to a file and "
                               "pass its name" if hasattr(path, "read") or hasattr(path, "write") else ""))


def writable_in_place(path):
    """Whether the permission bits of the existing file ``path`` let this user write it (see the
    module docstring: root is held to the bits too). True for a path with no file."""
    try:
        st = os.stat(path)
    except OSError:
        return True
    if not hasattr(os, "geteuid"):  # Windows: the read-only attribute
        return bool(st.st_mode & stat.S_IWRITE)
    if os.geteuid() == 0:
        return bool(st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    if st.st_uid == os.geteuid():
        bit = stat.S_IWUSR
    elif st.st_gid == os.getegid() or st.st_gid in os.getgroups():
        bit = stat.S_IWGRP
    else:
        bit = stat.S_IWOTH
    return bool(st.st_mode & bit)


def _refuse_read_only(path):
    if os.path.isfile(path) and not writable_in_place(path):
        st = os.stat(path)
        mine = not hasattr(os, "geteuid") or os.geteuid() in (0, st.st_uid)
        raise _cannot_write(path, _ReadOnly(stat.S_IMODE(st.st_mode), mine))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def remove_leftovers(path):
    """Remove the temporary files that killed writers of ``path`` left behind; return their names."""
    if os.name != "posix":
        return []
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = _TMP.fullmatch(name)
        if m is None or m["base"] != base or int(m["pid"]) == os.getpid() or _alive(int(m["pid"])):
            continue
        try:
            os.unlink(os.path.join(directory, name))
            removed.append(name)
        except OSError:
            pass
    return removed


_TMP = re.compile(r"\.(?P<base>.+)\.(?P<pid>[0-9]+)\.[a-z0-9_]{8}\.tmp")


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
    _refuse_read_only(path)


def atomic_write(path, write):
    """Create ``path`` by calling ``write(fileobj)`` on a temporary binary file, then renaming it.

    ``write`` may raise: the temporary file is removed and the old ``path`` (if any) is untouched.
    A read-only ``path`` is refused before anything is written; temporary files left by killed
    writers of ``path`` are removed first.
    """
    path = check_path_argument(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):  # os.replace would fail only after the whole file was written
        raise _cannot_write(path, IsADirectoryError(errno.EISDIR, "is a directory"))
    _refuse_read_only(path)
    remove_leftovers(path)
    try:
        prefix = f".{os.path.basename(path)}.{os.getpid()}."
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=".tmp")
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


NPY_HEADER_MAX = 10_000  # bytes of a .npy header's dict; NumPy's own default limit


def read_npy_header(f, where, kinds="biuf", plain="plain numbers"):
    """``(shape, fortran_order, dtype)`` of the ``.npy`` header at ``f``'s position, read with a size cap
    and checked before any data: format 1.0 or 2.0, no pickled objects, a plain dtype whose kind is
    one of ``kinds``. Messages start with ``where`` (a file, or a file's entry)."""
    version = np.lib.format.read_magic(f)
    if version not in ((1, 0), (2, 0)):
        raise FileFormatError(f"{where} is in .npy format {version}, not 1.0 or 2.0")
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(f, max_header_size=NPY_HEADER_MAX)
    if dtype.hasobject:
        raise FileFormatError(f"{where} holds pickled Python objects; handprop never unpickles files, because "
                              "loading a pickle can run arbitrary code")
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        raise FileFormatError(f"{where} has dtype {dtype}, not {plain}")
    return shape, fortran, dtype
