"""What a verb does when its terminal hangs up (SIGHUP: the SSH session or terminal window closed)."""

import contextlib
import os
import stat


def leave_lost_terminal() -> None:
    """Writing to a hung-up terminal fails (EIO), which would stop the cleanup at its first line: what is still
    printed goes to /dev/null instead. Output to a file or pipe (a log, `tee`) is kept."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):  # stdout, stderr
            # A terminal is a character device (os.isatty is False once it hung up); files and pipes are not.
            with contextlib.suppress(OSError):
                if stat.S_ISCHR(os.fstat(fd).st_mode):
                    os.dup2(devnull, fd)
    finally:
        os.close(devnull)
