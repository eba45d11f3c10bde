"""One glibc malloc arena for the whole process, asked for before the pipeline's threads start.

glibc gives each thread that allocates under contention its own arena and keeps what the thread
freed there for reuse. The pipeline's threads (capture, inference, the view's encoder, the
recorder, x264's) each free frame-sized buffers, so each arena holds its own copy of them: one
shared arena took `camera --view --record` at 320×240 from 173 to 161 MB peak RSS at the same
frame rate (docs/device.md). Their small objects are Python's own (pymalloc, under the GIL).
"""

from __future__ import annotations

import ctypes

M_ARENA_MAX = -8  # glibc's malloc.h


def one_malloc_arena() -> None:
    """mallopt(M_ARENA_MAX, 1) where the C library has mallopt (glibc); elsewhere nothing."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl, macOS, Windows
        return
    mallopt(M_ARENA_MAX, 1)
