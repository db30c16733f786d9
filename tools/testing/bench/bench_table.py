# SPDX-License-Identifier: GPL-2.0
#
# bench_table: the per-configuration table of bench-matrix --events, as
# text (bench-matrix, bench-report) or as reStructuredText (bench-report
# --rst, for Documentation/performance.rst). Input: bench-matrix's JSON.

import re

BACKENDS = ("vhu-kernel", "vhu-kernel-pin", "vhu-kernel-poll", "vhu-user", "qsd")
# Every backend whose name starts with this is a variant of the kernel
# datapath (vhu-kernel, vhu-kernel-pin, ...); the targets are judged with
# the best of those measured.
KERNEL = "vhu-kernel"
JOB_LABELS = {"qd1": "4K randread QD1", "qd32": "4K randread QD32",
              "wr1": "4K randwrite QD1", "wr32": "4K randwrite QD32",
              "seq": "128K read QD8", "2q": "4K randread QD32 x2q"}


def _f(v, fmt="%.2f"):
    return "-" if v is None else fmt % v


def _iops(v):
    if v is None:
        return "-"
    return "%.1fk" % (v / 1e3) if v >= 1e4 else "%.0f" % v


def _get(res, be, job):
    r = res.get(be, {}).get(job)
    return None if not r or "error" in r else r


def _pio(r, k):
    return (r.get("events") or {}).get("per_io", {}).get(k) if r else None


# (label, function of one backend's result for one job -> cell)
METRICS = [
    ("IOPS", lambda r: _iops(r["iops"])),
    ("latency p50 / p99 (us)", lambda r: "%.1f / %.1f" % (r["lat_us"]["p50"],
                                                           r["lat_us"]["p99"])),
    ("backend CPU per I/O, us (icount: kinstr)", lambda r: _f(_pio(r, "kinstr"))),
    ("syscalls per I/O", lambda r: _f(_pio(r, "syscalls"))),
    ("ctx switches per I/O (vol / invol)",
     lambda r: "%s / %s" % (_f(_pio(r, "vcsw")), _f(_pio(r, "nvcsw")))),
    ("wakeups per I/O (of the backend / by it)",
     lambda r: "%s / %s" % (_f(_pio(r, "wakeups")), _f(_pio(r, "wakes")))),
    ("interrupts per I/O (IPI / timer / device)",
     lambda r: "%s / %s / %s" % (_f(_pio(r, "irq_ipi"), "%.3f"),
                                 _f(_pio(r, "irq_timer"), "%.3f"),
                                 _f(_pio(r, "irq_device"), "%.3f"))),
]


def title(info, backing):
    ncpu = info.get("cpus")
    return "%s, %d vCPU%s, %s, %s s per job%s" % (
        info.get("kernel", "?"), ncpu, "" if ncpu == 1 else "s",
        {"ram": "brd", "null": "null_blk"}.get(backing, backing), info.get("runtime"),
        ", instruction-counted" if info.get("icount") else ", timing (not icount)")


def rows(info, res):
    """[(label, [cell per backend])]; a row with cells None is a job heading."""
    backends = [b for b in info.get("backends", BACKENDS)]
    out = []
    for job in info.get("jobs", []):
        out.append((JOB_LABELS.get(job, job), None))
        for label, fn in METRICS:
            cells = []
            for be in backends:
                r = _get(res, be, job)
                if r is None:
                    err = res.get("_err", {}).get(be) or (res.get(be, {}).get(job) or {}).get(
                        "error")
                    cells.append("n/a" if err else "-")
                else:
                    cells.append(fn(r))
            out.append((label, cells))
    return backends, out


def kernel_variants(info):
    """The kernel datapath's variants in the run, in its backends' order."""
    return [b for b in info.get("backends", BACKENDS) if b.startswith(KERNEL)]


def variant_label(be):
    """What a target's cell says of the variant: pin for vhu-kernel-pin, plain
    for vhu-kernel itself."""
    return be[len(KERNEL):].lstrip("-") or "plain"


def best_of(variants, pair, le):
    """The best ratio a / b over the variants, pair(variant) -> (a, b): the
    lowest for an upper-bound target (le), else the highest; the first
    variant in order on a tie. (ratio, variant), or None if no variant has
    both a and a non-zero b."""
    best = None
    for be in variants:
        a, b = pair(be)
        if a is None or not b:
            continue
        r = a / b
        if best is None or (r < best[0] if le else r > best[0]):
            best = (r, be)
    return best


def targets(info, res):
    """The kernel path's targets, each with the best of the kernel variants
    measured: [(name, ratio, want, met, variant)], ratio, met and variant
    None when not measured."""
    one = info.get("cpus") == 1
    kerns = kernel_variants(info)
    u = lambda j: _get(res, "vhu-user", j)
    q = lambda j: _get(res, "qsd", j)
    out = []

    def add(name, a, b, want, le=False):
        """a(variant), b: the variant's figure, and the other backend's."""
        best = best_of(kerns, lambda be: (a(be), b), le)
        if best is None:
            out.append((name, None, want, None, None))
            return
        r, be = best
        out.append((name, r, want, r <= want if le else r >= want, be))

    for j, what in (("qd32", "randread"), ("wr32", "randwrite")):
        uu, qq = u(j), q(j)
        add("4K %s QD32 kinstr/IO kernel/user <= 0.5x" % what,
            lambda be: _pio(_get(res, be, j), "kinstr"), _pio(uu, "kinstr"), 0.5, True)
        add("4K %s QD32 IOPS kernel/user >= 1.5x" % what,
            lambda be: (_get(res, be, j) or {}).get("iops"), uu and uu["iops"], 1.5)
        add("4K %s QD32 IOPS kernel/qsd >= 4x (1 vCPU), 2x" % what,
            lambda be: (_get(res, be, j) or {}).get("iops"), qq and qq["iops"],
            4.0 if one else 2.0)
    for j, what in (("qd1", "randread"), ("wr1", "randwrite")):
        qq = q(j)
        add("4K %s QD1 p50 kernel/qsd <= 0.5x" % what,
            lambda be: ((_get(res, be, j) or {}).get("lat_us") or {}).get("p50"),
            qq and qq["lat_us"]["p50"], 0.5, True)
    return out


def target_cell(r, met, be):
    """A target's verdict, e.g. '0.58x pin missed'; '-' if not measured."""
    if r is None:
        return "-"
    return "%.2fx %s %s" % (r, variant_label(be), "met" if met else "missed")


def text(info, backing, res):
    backends, rs = rows(info, res)
    w = max(len(lbl) for lbl, _ in rs) + 2 if rs else 20
    cw = max([len(c) for _, cells in rs if cells for c in cells] + [len(b) for b in backends]) + 2
    out = [title(info, backing), " " * w + "".join(b.rjust(cw) for b in backends)]
    for lbl, cells in rs:
        if cells is None:
            out.append(lbl)
        else:
            out.append(("  " + lbl).ljust(w) + "".join(c.rjust(cw) for c in cells))
    for be, e in sorted(res.get("_err", {}).items()):
        out.append("  %s: n/a: %s" % (be, e))
    out.append("targets for the kernel path (the best of %s):" %
               (", ".join(kernel_variants(info)) or "no kernel variant run"))
    for name, r, want, met, be in targets(info, res):
        out.append("  %-53s %s" % (name, "not measured" if r is None else "%.2fx %-5s %s" % (
            r, variant_label(be), "met" if met else "MISSED")))
    return "\n".join(out)


def rst(info, backing, res):
    """A simple table, every job's rows under its heading row."""
    backends, rs = rows(info, res)
    head = ["job / per I/O"] + backends
    body = []
    for lbl, cells in rs:
        body.append(["**%s**" % lbl] + [""] * len(backends) if cells is None else
                    [lbl] + cells)
    w = [max(len(r[i]) for r in body + [head]) for i in range(len(head))]
    rule = "  ".join("=" * x for x in w)
    line = lambda r: "  ".join(c.ljust(x) for c, x in zip(r, w)).rstrip()
    out = [rule, line(head), rule] + [line(r) for r in body] + [rule]
    return "\n".join(out)


def rst_targets(docs):
    """One table of the targets, a column per configuration; each cell
    names the kernel variant that gave its ratio."""
    cols = []
    names = []
    for info, backing, res in docs:
        t = targets(info, res)
        if not names:
            names = [n for n, _, _, _, _ in t]
        m = re.match(r"\d+\.\d+", info.get("kernel", "?"))
        cols.append(("%s, %d vCPU" % (m.group(0) if m else "?", info.get("cpus")),
                     {n: target_cell(r, met, be) for n, r, _, met, be in t}))
    head = ["target"] + [c for c, _ in cols]
    body = [[n] + [c.get(n, "-") for _, c in cols] for n in names]
    w = [max(len(r[i]) for r in body + [head]) for i in range(len(head))]
    rule = "  ".join("=" * x for x in w)
    line = lambda r: "  ".join(c.ljust(x) for c, x in zip(r, w)).rstrip()
    return "\n".join([rule, line(head), rule] + [line(r) for r in body] + [rule])
