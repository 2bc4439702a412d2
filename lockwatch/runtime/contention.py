"""The contention profile: which lock is everyone waiting on.

Nothing here runs on the uncontended fast path. The instrumented acquire already tries a
non-blocking acquire first and only calls ``detect.contended`` when that fails; that slow
path is timed here (:func:`timed_contended`), and nothing else is, until a lock instance
has been contended once. From then on that one instance is *armed*: its release hook
(``w._rel``, a per-instance slot) is replaced by a closure that counts acquisitions and
times the hold of every acquisition that had to wait. Clock reads therefore happen only
for acquisitions that waited (two reads for the wait, one more at their release); a lock
that is never contended costs nothing at all.

Consequences, stated in the report (``"counting"``):

- ``acquisitions`` counts the acquisitions of armed instances, from their first contended
  acquisition on (a never-contended lock shows no row: it has no wait to rank);
- hold times are those of acquisitions that waited: the holds that others queued behind;
- a plain ``Lock`` under a ``Condition`` is timed correctly (``Condition.wait`` releases it
  through ``release()``); an ``RLock`` released by ``Condition.wait`` (``_release_save``)
  bypasses the hook, so its timed hold then includes the condition wait.

Counters of an armed instance are updated inside its release hook *before* the raw release,
i.e. while the lock is still held: the lock itself serialises them. Wait samples are added
under a private raw lock (the caller has just blocked anyway).
"""

from __future__ import annotations

import _thread
import random
import time

from lockwatch.runtime import state

clock = time.perf_counter

# Samples kept per lock class for the percentiles (totals and maxima are exact).
RESERVOIR = 2048

_guard = _thread.allocate_lock()
# lock class -> its aggregate (waits, counts of failed/timeouts) and armed instances
_classes: dict = {}
_rng = random.Random(0x10C4)
_gen = 0  # bumped by reset(): instances armed earlier re-register on their next wait


class _Reservoir:
    """Uniform reservoir sample plus exact count, total and maximum."""

    __slots__ = ("n", "total", "max", "sample")

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self.max = 0.0
        self.sample: list[float] = []

    def add(self, x: float) -> None:
        self.n += 1
        self.total += x
        if x > self.max:
            self.max = x
        if len(self.sample) < RESERVOIR:
            self.sample.append(x)
        else:
            j = _rng.randrange(self.n)
            if j < RESERVOIR:
                self.sample[j] = x

    def merge(self, other: "_Reservoir") -> None:
        # Report-time only: concatenate samples, then thin uniformly back to the cap.
        self.n += other.n
        self.total += other.total
        self.max = max(self.max, other.max)
        self.sample.extend(other.sample)
        if len(self.sample) > RESERVOIR:
            self.sample = _rng.sample(self.sample, RESERVOIR)


class _ClassStats:
    __slots__ = ("waits", "contended", "failed", "instances")

    def __init__(self) -> None:
        self.waits = _Reservoir()
        self.contended = 0   # contended acquisitions that ended with the lock taken
        self.failed = 0      # contended attempts that timed out or raised
        self.instances: list[_Instance] = []


class _Instance:
    """Per armed lock instance; mutated only while that lock is held."""

    __slots__ = ("acq", "t0", "holds", "gen")

    def __init__(self) -> None:
        self.gen = _gen
        self.acq = 0
        self.t0 = 0.0        # acquisition time of a hold that waited, 0 otherwise
        self.holds = _Reservoir()


def _stats(cls) -> _ClassStats:
    st = _classes.get(cls)
    if st is None:
        st = _classes[cls] = _ClassStats()
    return st


def _arm(w, st: _ClassStats) -> _Instance:
    """Swap ``w``'s release hook for a counting, hold-timing one (once per instance)."""
    rec = getattr(w._rel, "_lw_rec", None)
    if rec is not None:
        if rec.gen != _gen:  # armed before a reset(): start counting afresh
            rec.gen, rec.acq, rec.t0, rec.holds = _gen, 0, 0.0, _Reservoir()
            st.instances.append(rec)
        return rec
    rec = _Instance()
    raw = w._lk.release
    if w._reentrant:
        def release():
            # The RLock wrapper calls this once per level, before lowering its count.
            if w._cnt <= 1:
                rec.acq += 1
                t0 = rec.t0
                if t0:
                    rec.t0 = 0.0
                    rec.holds.add(clock() - t0)
            try:
                raw()
            except BaseException:
                if w._cnt <= 1:
                    rec.acq -= 1
                raise
    else:
        def release():
            rec.acq += 1
            t0 = rec.t0
            if t0:
                rec.t0 = 0.0
                rec.holds.add(clock() - t0)
            try:
                raw()
            except BaseException:  # released while unlocked: not an acquisition
                rec.acq -= 1
                raise
    release._lw_rec = rec  # type: ignore[attr-defined]
    w._rel = release
    st.instances.append(rec)
    return rec


def timed_contended(contended, w, timeout):
    """Call the tracer's contended-acquire ``contended(w, timeout)`` and record the wait."""
    t0 = clock()
    try:
        ok = contended(w, timeout)
    except BaseException:
        _record(w, clock() - t0, False)
        raise
    _record(w, clock() - t0, ok)
    return ok


def _record(w, waited: float, ok: bool) -> None:
    try:
        with _guard:
            st = _stats(w._cls)
            st.waits.add(waited)
            if ok:
                st.contended += 1
                rec = _arm(w, st)
            else:
                st.failed += 1
                rec = None
        if rec is not None:
            rec.t0 = clock()  # we hold w: nobody else touches rec until we release
    except Exception as e:  # never disturb the program
        state.internal_error("contention", e)


_saved_async = None


def install() -> None:
    """Time the contended path of ``asyncio.Lock`` too (waits only: its release is inline
    in the instrumented class, so async holds are not timed)."""
    global _saved_async
    if _saved_async is not None:
        return
    from lockwatch.runtime import aio

    orig = aio._contended

    async def _contended(w):
        t0 = clock()
        try:
            await orig(w)
        except BaseException:  # cancelled, or a deadlock broken
            record_wait(w._cls, clock() - t0, False)
            raise
        record_wait(w._cls, clock() - t0, True)

    aio._contended = _contended
    _saved_async = orig


def uninstall() -> None:
    global _saved_async
    if _saved_async is None:
        return
    from lockwatch.runtime import aio

    aio._contended = _saved_async
    _saved_async = None


def record_wait(cls, waited: float, ok: bool = True) -> None:
    """A wait on a lock without a release hook (asyncio locks): waits only."""
    try:
        with _guard:
            st = _stats(cls)
            st.waits.add(waited)
            if ok:
                st.contended += 1
            else:
                st.failed += 1
    except Exception as e:
        state.internal_error("contention", e)


def _pct(sample: list[float], q: float) -> float:
    if not sample:
        return 0.0
    s = sorted(sample)
    # nearest rank
    k = max(0, min(len(s) - 1, int(round(q * len(s) + 0.5)) - 1))
    return s[k]


def _times(r: _Reservoir) -> dict:
    ms = 1e3
    return {
        "count": r.n,
        "total_ms": round(r.total * ms, 3),
        "median_ms": round(_pct(r.sample, 0.5) * ms, 3),
        "p99_ms": round(_pct(r.sample, 0.99) * ms, 3),
        "max_ms": round(r.max * ms, 3),
    }


def profile(limit: int | None = 50) -> dict:
    """The ``contention`` section of a runtime report: lock classes sorted by total wait."""
    with _guard:
        items = [(cls, st, list(st.instances)) for cls, st in _classes.items()]
    rows = []
    for cls, st, insts in items:
        holds = _Reservoir()
        acq = 0
        for rec in insts:
            acq += rec.acq
            holds.merge(rec.holds)
        try:
            name = cls.name()
        except Exception:
            name = getattr(cls, "key", "?")
        rows.append({
            "lock": name,
            "created": f"{cls.path}:{cls.line}",
            "class": cls.key,
            "kind": cls.kind,
            "acquisitions": max(acq, st.contended),
            "contended": st.contended,
            "timed_out": st.failed,
            "wait": _times(st.waits),
            "hold": _times(holds),
        })
    rows.sort(key=lambda r: (-r["wait"]["total_ms"], -r["contended"], r["class"]))
    total = len(rows)
    if limit is not None:
        rows = rows[:limit]
    return {
        "sorted_by": "total wait",
        "counting": "contended acquisitions only; acquisitions are counted per lock instance "
                    "from its first contended acquisition; hold times are of acquisitions "
                    "that waited",
        "contended_classes": total,
        "locks": rows,
    }


def format_text(prof: dict, limit: int = 10) -> str:
    """A small table for the text report / terminal."""
    rows = prof.get("locks", [])[:limit]
    if not rows:
        return "contention: no lock was contended"
    out = ["contention profile (sorted by total wait):",
           f"  {'lock':40} {'acq':>8} {'contended':>9} {'wait total':>11} {'wait p50/p99/max ms':>22} "
           f"{'hold p50/p99/max ms':>22}"]
    for r in rows:
        w, h = r["wait"], r["hold"]
        created = r["created"].rsplit("/", 1)[-1]
        label = f"{r['lock']} ({created})" if r["lock"] != r["class"] else r["class"]
        out.append(
            f"  {label[-40:]:40} {r['acquisitions']:8d} {r['contended']:9d} {w['total_ms']:9.1f}ms "
            f"{w['median_ms']:6.2f}/{w['p99_ms']:6.2f}/{w['max_ms']:7.2f} "
            f"{h['median_ms']:6.2f}/{h['p99_ms']:6.2f}/{h['max_ms']:7.2f}"
        )
    return "\n".join(out)


def reset() -> None:
    global _gen
    with _guard:
        _classes.clear()
        _gen += 1
