"""The earlyoom rule for memory kills: read memory again right before the signal.

Seconds can pass between the snapshot and the kill (other collectors, an LLM
call of up to ``llm.timeout``), and memory pressure often passes by itself: a
build finishes, a cache is dropped. earlyoom re-reads memory just before it kills
and does nothing if the situation recovered; so does Argus, for every kill made for
a memory problem, whoever proposed it.
"""

from __future__ import annotations

from argus.collect.system import collect_memory
from argus.context import Context
from argus.model import Problem


def memory_recovered(ctx: Context, problem: Problem) -> str | None:
    """Why a kill for ``problem`` is no longer needed, or None when memory is still high.

    The mark is ``memory.kill_hog_at`` when set, else ``thresholds.memory_warn`` (an
    LLM may propose a hog kill without kill_hog_at; once memory is below warn there
    is no memory problem left to solve). Memory is read on the same basis as the
    snapshot: % of the cgroup limit when one binds, else of RAM. An unreadable
    meminfo skips the kill: when in doubt, do not kill.
    """
    mark = ctx.config.memory.kill_hog_at or ctx.config.thresholds.memory_warn
    try:
        now = collect_memory(ctx.proc_root, ctx.sys_root)
    except Exception as err:  # CollectError, OSError: whatever it is, we cannot re-check
        return f"memory re-check failed ({type(err).__name__}: {err}); not killing"
    if now.pct < mark:
        return (f"memory recovered to {now.pct:.0f}% (below {mark:g}%) since the snapshot "
                f"({problem.details.get('pct', '?')}%); not killing")
    return None
