# SPDX-License-Identifier: GPL-2.0
#
# bench_events: what a backend costs per I/O besides its IOPS, for
# bench-matrix --events. Meant for the instruction-counted VM rig (vhu-vm
# --icount), where guest time is one nanosecond per guest instruction, but
# works anywhere (then CPU time is just CPU time).
#
# The backend's threads are every task of its process (the daemon's
# threads, its io_uring workers, and on 6.12 vhu.ko's vhost_task workers,
# which belong to the daemon's thread group) plus every kernel thread
# whose comm starts with "vhu-" (vhu.ko's workers on 6.1, kthreads). For
# each, between two snapshots taken while the job runs:
#   run_ns       time on a CPU (/proc/TID/schedstat, field 1, exact to the
#                nanosecond, not tick-sampled); under icount that is the
#                number of guest instructions the thread ran, kernel and
#                user mode, interrupts that hit it while it ran included
#   vcsw, nvcsw  voluntary and involuntary context switches
#                (/proc/TID/status)
#   wakeups      times the thread was woken (/proc/TID/sched nr_wakeups;
#                needs kernel.sched_schedstats=1, so only in the events pass)
#   syscalls     raw_syscalls:sys_enter counted by perf stat -t on those
#                threads (only in the events pass)
#   wakes        sched:sched_wakeup counted the same way: wakeups the
#                backend's threads made of other threads (the tracepoint
#                fires in the waker's context; a wakeup queued to another
#                CPU fires there, and is not counted)
# and, for the whole machine, /proc/interrupts: device interrupts, local
# timer interrupts, and IPIs (rescheduling, function call, TLB shootdown).
#
# Counting syscalls (a tracepoint per syscall) and schedstats cost guest
# instructions themselves, so bench-matrix measures them in a second,
# shorter run of the same job (the "events pass"), and takes IOPS,
# latency, CPU time and context switches from the first, unperturbed one.
import os, select, shutil, signal, subprocess, tempfile, time

KTHREAD_PREFIX = "vhu-"
PF_KTHREAD = 0x00200000
IPIS = ("RES", "CAL", "TLB")


def _read(path):
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return None


def backend_tids(pid):
    """{tid: comm} of the backend's process and of vhu.ko's kthreads."""
    tids = {}
    for t in os.listdir("/proc/%d/task" % pid) if os.path.isdir("/proc/%d/task" % pid) else []:
        c = _read("/proc/%d/task/%s/comm" % (pid, t))
        if c is not None:
            tids[int(t)] = c.strip()
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == pid:
            continue
        c = _read("/proc/%s/comm" % p)
        st = _read("/proc/%s/stat" % p)
        if c is None or st is None or not c.startswith(KTHREAD_PREFIX):
            continue
        flags = int(st.rsplit(")", 1)[1].split()[6])
        if flags & PF_KTHREAD:
            tids[int(p)] = c.strip()
    return tids


def is_worker(comm):
    """vhu.ko's per-queue worker: vhu-<dev>-<queue>."""
    f = comm.split("-")
    return len(f) == 3 and f[0] == "vhu" and f[1].isdigit() and f[2].isdigit()


def _run_ns(tids):
    out = {}
    for tid in tids:
        ss = _read("/proc/%d/schedstat" % tid)
        if ss is not None:
            out[tid] = int(ss.split()[0])
    return out


def wait_tids(pid, worker, timeout=2.0):
    """backend_tids(pid) once the job's threads are there: the same set
    twice 50 ms apart, one of them having run 5 ms or more in between,
    and if worker, a vhu.ko queue worker among them. A backend starts a
    queue's threads with the device, after tearing down the previous
    job's: a set taken too early misses the busy thread, and holds one
    that is about to exit (perf stat -t then fails). The last set found
    after timeout s."""
    end = time.monotonic() + timeout
    while True:
        tids = backend_tids(pid)
        a = _run_ns(tids)
        time.sleep(0.05)
        again = backend_tids(pid)
        b = _run_ns(again)
        busy = any(b[t] - a[t] >= 5e6 for t in a if t in b)
        if (again == tids and busy and
                (not worker or any(is_worker(c) for c in tids.values()))) or \
                time.monotonic() >= end:
            return again


def _thread(tid):
    """One thread's counters, or None if it is gone."""
    ss = _read("/proc/%d/schedstat" % tid)
    status = _read("/proc/%d/status" % tid)
    if ss is None or status is None:
        return None
    r = {"run_ns": int(ss.split()[0])}
    for line in status.splitlines():
        k, _, v = line.partition(":")
        if k == "voluntary_ctxt_switches":
            r["vcsw"] = int(v)
        elif k == "nonvoluntary_ctxt_switches":
            r["nvcsw"] = int(v)
    sched = _read("/proc/%d/sched" % tid) or ""
    for line in sched.splitlines():
        k, _, v = line.partition(":")
        k = k.strip()
        if k == "nr_wakeups" or k.endswith(".nr_wakeups"):
            r["wakeups"] = int(v.split()[0].split(".")[0])
    return r


def interrupts():
    """{"device": n, "timer": n, "ipi": n, "other": n} summed over CPUs."""
    txt = _read("/proc/interrupts") or ""
    lines = txt.splitlines()
    ncpu = len(lines[0].split()) if lines else 0
    out = {"device": 0, "timer": 0, "ipi": 0, "other": 0}
    for line in lines[1:]:
        name, _, rest = line.partition(":")
        name = name.strip()
        counts = 0
        for f in rest.split()[:ncpu]:
            if not f.isdigit():
                break
            counts += int(f)
        if name.isdigit():
            out["device"] += counts
        elif name == "LOC":
            out["timer"] += counts
        elif name in IPIS:
            out["ipi"] += counts
        else:
            out["other"] += counts
    return out


def snapshot(tids):
    return {"t": time.monotonic(), "irq": interrupts(),
            "threads": {tid: _thread(tid) for tid in tids}}


def delta(a, b, tids):
    """Per-thread and total deltas between two snapshots."""
    threads = {}
    tot = {}
    for tid, comm in tids.items():
        x, y = a["threads"].get(tid), b["threads"].get(tid)
        if y is None:
            continue
        x = x or {k: 0 for k in y}
        d = {k: y[k] - x.get(k, 0) for k in y}
        threads["%s/%d" % (comm, tid)] = d
        for k, v in d.items():
            tot[k] = tot.get(k, 0) + v
    irq = {k: b["irq"][k] - a["irq"][k] for k in a["irq"]}
    return {"window_s": b["t"] - a["t"], "threads": threads, "total": tot, "irq": irq}


def per_io(d, ios):
    """The deltas of one window divided by the I/Os done in it."""
    if not ios:
        return {}
    t = d["total"]
    r = {}
    if "run_ns" in t:
        # Under icount: guest instructions / 1000 (= µs of CPU).
        r["kinstr"] = t["run_ns"] / 1e3 / ios
    for k in ("vcsw", "nvcsw", "wakeups", "syscalls", "wakes"):
        if k in t:
            r[k] = t[k] / ios
    for k, v in d.get("irq", {}).items():
        r["irq_" + k] = v / ios
    return r


# perf stat's events, and the name of each count in the results.
PERF_EVENTS = (("raw_syscalls:sys_enter", "syscalls"), ("sched:sched_wakeup", "wakes"))


class Perf:
    """perf stat counting PERF_EVENTS on a set of threads,
    started disabled and switched on and off through its control FIFOs,
    so that the count covers exactly the window between enable() and
    disable() (perf's own start-up is not in it)."""

    def __init__(self, tids):
        self.proc = None
        self.err = None
        self.dir = tempfile.mkdtemp(prefix="vhu-bench-perf.")
        ctl, ack = os.path.join(self.dir, "ctl"), os.path.join(self.dir, "ack")
        os.mkfifo(ctl)
        os.mkfifo(ack)
        # O_RDWR: opening a FIFO so never blocks, whether perf starts or not.
        self.ctl = os.open(ctl, os.O_RDWR)
        self.ack = os.open(ack, os.O_RDWR | os.O_NONBLOCK)
        tl = ",".join(str(t) for t in sorted(tids))
        try:
            self.proc = subprocess.Popen(
                ["perf", "stat", "-x", ",", "--no-big-num", "-e",
                 ",".join(e for e, _ in PERF_EVENTS),
                 "-D", "-1", "--control", "fifo:%s,%s" % (ctl, ack), "-t", tl],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        except OSError as e:
            self.err = "perf: %s" % e

    def _cmd(self, c, timeout=20):
        if not self.proc or self.proc.poll() is not None:
            return False
        os.write(self.ctl, (c + "\n").encode())
        end = time.monotonic() + timeout
        got = b""
        while b"ack" not in got and time.monotonic() < end:
            r, _, _ = select.select([self.ack], [], [], 0.1)
            if r:
                got += os.read(self.ack, 64)
            elif self.proc.poll() is not None:
                return False
        return b"ack" in got

    def enable(self):
        return self._cmd("enable")

    def disable(self):
        return self._cmd("disable")

    def stop(self):
        """{name: count}, or None (and self.err says why). Always cleans up."""
        try:
            return self._stop()
        finally:
            os.close(self.ctl)
            os.close(self.ack)
            shutil.rmtree(self.dir, ignore_errors=True)

    def _stop(self):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            self.err = "perf stat did not stop"
            return None
        out = {}
        for line in err.splitlines():
            f = line.split(",")
            for ev, name in PERF_EVENTS:
                if len(f) > 2 and f[2].startswith(ev):
                    if not f[0].isdigit():
                        self.err = "perf: %s: %s" % (ev, f[0])
                        return None
                    out[name] = int(f[0])
        if len(out) == len(PERF_EVENTS):
            return out
        self.err = "perf: " + (err.strip().splitlines() or ["no output"])[-1][:200]
        return None


def set_schedstats(on):
    """Turn kernel.sched_schedstats on or off; the old value, or None."""
    path = "/proc/sys/kernel/sched_schedstats"
    old = _read(path)
    if old is None:
        return None
    try:
        with open(path, "w") as fh:
            fh.write("1" if on else "0")
    except OSError:
        return None
    return old.strip() == "1"
