#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Unit tests of bench_table's and bench-report's targets, on the small
# bench-matrix JSON files in testdata/: variants.json (6.12, 1 vCPU, three
# kernel variants: plain, pin and poll, some of their jobs failed) and
# plain.json (6.1, 2 vCPUs, vhu-kernel alone, as before the variants);
# and bench-matrix's fio step with a stand-in fio: a stuck one is killed
# with its job processes and reported, a device still open is seen.
# Run by bench-smoke (make check); alone: python3 -m unittest -v from here.
import importlib.machinery, importlib.util, io, json, os, subprocess, sys
import tempfile, time, unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_table  # noqa: E402

DATA = os.path.join(HERE, "testdata")
REPORT = os.path.join(HERE, "bench-report")


def doc(name):
    with open(os.path.join(DATA, name)) as fh:
        return json.load(fh)


def targets(name):
    d = doc(name)
    return {n: (r, met, be) for n, r, _, met, be in bench_table.targets(d, d["results"]["ram"])}


def matrix():
    """bench-matrix as a module (its file has no .py)."""
    path = os.path.join(HERE, "bench-matrix")
    loader = importlib.machinery.SourceFileLoader("bench_matrix", path)
    spec = importlib.util.spec_from_loader("bench_matrix", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


class BestVariant(unittest.TestCase):
    def test_each_target_takes_its_best_variant(self):
        t = targets("variants.json")
        # Lowest kinstr ratio: poll (3.0 / 6.0), not pin (3.6) or plain (5.4).
        r, met, be = t["4K randread QD32 kinstr/IO kernel/user <= 0.5x"]
        self.assertEqual((be, met), ("vhu-kernel-poll", True))
        self.assertAlmostEqual(r, 0.5)
        # Highest IOPS ratio: pin (230k), not poll (220k).
        r, met, be = t["4K randread QD32 IOPS kernel/user >= 1.5x"]
        self.assertEqual((be, met), ("vhu-kernel-pin", True))
        self.assertAlmostEqual(r, 230000 / 150000)
        r, met, be = t["4K randread QD32 IOPS kernel/qsd >= 4x (1 vCPU), 2x"]
        self.assertEqual((be, met), ("vhu-kernel-pin", True))

    def test_failed_variants_are_skipped(self):
        t = targets("variants.json")
        # poll's QD1 failed: pin's 15.0 us is the best p50 left.
        r, met, be = t["4K randread QD1 p50 kernel/qsd <= 0.5x"]
        self.assertEqual((be, met), ("vhu-kernel-pin", False))
        self.assertAlmostEqual(r, 15.0 / 20.0)
        # Only plain ran randwrite QD32 (pin failed, poll did not run it).
        r, met, be = t["4K randwrite QD32 IOPS kernel/user >= 1.5x"]
        self.assertEqual(be, "vhu-kernel")
        # No variant ran randwrite QD1.
        self.assertEqual(t["4K randwrite QD1 p50 kernel/qsd <= 0.5x"], (None, None, None))

    def test_plain_only_run(self):
        t = targets("plain.json")
        self.assertEqual({be for _, _, be in t.values() if be}, {"vhu-kernel"})
        # 2 vCPUs: the qsd target is 2x, met at 3.2x.
        r, met, be = t["4K randread QD32 IOPS kernel/qsd >= 4x (1 vCPU), 2x"]
        self.assertTrue(met)
        self.assertAlmostEqual(r, 3.2)

    def test_no_kernel_variant(self):
        d = doc("plain.json")
        d["backends"] = ["vhu-user", "qsd"]
        self.assertEqual(bench_table.kernel_variants(d), [])
        self.assertTrue(all(r is None for _, r, _, _, _ in
                            bench_table.targets(d, d["results"]["ram"])))

    def test_best_of_direction_and_ties(self):
        pairs = {"a": (2.0, 4.0), "b": (1.0, 4.0), "c": (2.0, 4.0), "d": (None, 4.0),
                 "e": (1.0, 0)}
        self.assertEqual(bench_table.best_of("abcde", pairs.get, True), (0.25, "b"))
        # A tie goes to the first variant in order.
        self.assertEqual(bench_table.best_of("abcde", pairs.get, False), (0.5, "a"))
        self.assertIsNone(bench_table.best_of("de", pairs.get, False))

    def test_labels(self):
        self.assertEqual(bench_table.variant_label("vhu-kernel"), "plain")
        self.assertEqual(bench_table.variant_label("vhu-kernel-pin"), "pin")
        self.assertEqual(bench_table.variant_label("vhu-kernel-poll"), "poll")
        self.assertEqual(bench_table.target_cell(0.5833, False, "vhu-kernel-pin"),
                         "0.58x pin missed")
        self.assertEqual(bench_table.target_cell(None, None, None), "-")


class Tables(unittest.TestCase):
    def rst_table(self, txt):
        """The targets table's lines, checked to be a well-formed simple
        table: three rules of the same shape, every cell in its column."""
        lines = txt[txt.index("Targets for the kernel path"):].splitlines()
        table = [ln for ln in lines[3:] if ln]
        rules = [i for i, ln in enumerate(table) if ln.startswith("=")]
        self.assertEqual(len(rules), 3, txt)
        rule = table[0]
        self.assertTrue(all(table[i] == rule for i in rules))
        starts = [i for i, c in enumerate(rule) if c == "=" and (i == 0 or rule[i - 1] == " ")]
        for ln in table:
            self.assertLessEqual(len(ln), len(rule))
            for s in starts[1:]:
                self.assertEqual(ln[s - 2:s], "  ", "cell across a column: %r" % ln)
        return table

    def test_rst_targets_name_the_variant(self):
        out = subprocess.run([REPORT, "--rst", os.path.join(DATA, "variants.json"),
                              os.path.join(DATA, "plain.json")],
                             capture_output=True, text=True, check=True).stdout
        table = self.rst_table(out)
        self.assertIn("6.12, 1 vCPU", table[1])
        self.assertIn("6.1, 2 vCPU", table[1])
        row = [ln for ln in table if ln.startswith("4K randread QD32 kinstr")][0]
        self.assertRegex(row, r"  0\.50x poll met +0\.90x plain missed$")
        row = [ln for ln in table if ln.startswith("4K randread QD1 p50")][0]
        self.assertRegex(row, r"  0\.75x pin missed +0\.80x plain missed$")
        row = [ln for ln in table if ln.startswith("4K randwrite QD1 p50")][0]
        self.assertRegex(row, r"  - +-$")

    def test_text_targets(self):
        d = doc("variants.json")
        txt = bench_table.text(d, "ram", d["results"]["ram"])
        self.assertIn("targets for the kernel path (the best of vhu-kernel, vhu-kernel-pin, "
                      "vhu-kernel-poll):", txt)
        self.assertRegex(txt, r"\n  4K randread QD32 IOPS kernel/user >= 1\.5x +1\.53x pin +met\n")
        self.assertRegex(txt, r"\n  4K randwrite QD1 p50 kernel/qsd <= 0\.5x +not measured")
        # The columns line up: every row as wide as the header.
        lines = txt.splitlines()
        head = lines[1]
        for ln in lines[2:]:
            if ln.startswith("  ") and not ln.startswith("  4K"):
                self.assertEqual(len(ln), len(head), ln)

    def test_update(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "doc.rst")
            with open(path, "w") as fh:
                fh.write("Head\n\n.. bench-report begin\n\nold\n\n.. bench-report end\n\nTail\n")
            subprocess.run([REPORT, "--update", path, os.path.join(DATA, "variants.json")],
                           check=True)
            with open(path) as fh:
                txt = fh.read()
            self.assertTrue(txt.startswith("Head\n\n.. bench-report begin\n\n"))
            self.assertTrue(txt.endswith("\n\n.. bench-report end\n\nTail\n"))
            self.assertNotIn("old", txt)
            self.assertIn("0.50x poll met", txt)
            self.assertIn("vhu-kernel-poll", txt)
            # Markers missing: a clear error, the file left alone.
            with open(path, "w") as fh:
                fh.write("no markers\n")
            r = subprocess.run([REPORT, "--update", path, os.path.join(DATA, "plain.json")],
                               capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("needs one '.. bench-report begin' line", r.stderr)
            with open(path) as fh:
                self.assertEqual(fh.read(), "no markers\n")

    def test_report_reads_a_vm_log(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "output.log")
            with open(log, "w") as fh:
                fh.write("boot noise\nbench-matrix-json: %s\n" % json.dumps(doc("plain.json")))
            out = os.path.join(d, "x.json")
            subprocess.run([REPORT, "--extract", out, log], check=True,
                           capture_output=True)
            with open(out) as fh:
                self.assertEqual(json.load(fh), doc("plain.json"))


class MatrixTable(unittest.TestCase):
    def test_timing_targets_take_the_best_variant(self):
        m = matrix()
        d = doc("variants.json")
        res = d["results"]["ram"]
        res["fio"] = {}
        out = m.table(d["results"], ["ram"], d["backends"], d["jobs"])
        self.assertIn("targets (the best of vhu-kernel, vhu-kernel-pin, vhu-kernel-poll):", out)
        self.assertRegex(out, r"\n  4K randread QD32 >= 2x qsd +4\.60x pin +met\n")
        # QD1 by p50: pin's 15.0 against qsd's 20.0.
        self.assertRegex(out, r"\n  QD1 p50 latency <= 0\.5x qsd +0\.75x pin +MISSED\n")
        # Every column's header is apart from the next.
        head = [ln for ln in out.splitlines() if ln.startswith("job ")][0]
        for name in d["backends"] + ["fio", "kernel-pin/qsd", "kernel-poll/qsd"]:
            self.assertIn(" " + name, head)


class FioBound(unittest.TestCase):
    """bench-matrix's fio step on the host, with a stand-in fio on PATH:
    a hang is bounded and reported, and its forked job processes die."""

    def setUp(self):
        self.m = matrix()
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.path = os.environ["PATH"]
        self.addCleanup(os.environ.__setitem__, "PATH", self.path)
        os.environ["PATH"] = self.dir.name + os.pathsep + self.path
        self.pidfile = os.path.join(self.dir.name, "child")

    def fake_fio(self, body):
        f = os.path.join(self.dir.name, "fio")
        with open(f, "w") as fh:
            fh.write("#!/bin/sh\n" + body)
        os.chmod(f, 0o755)

    def alive(self, pid, wait=5):
        """pid still runs after wait seconds (a zombie does not)."""
        end = time.monotonic() + wait
        while True:
            try:
                with open("/proc/%d/stat" % pid) as fh:
                    if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return False
            except OSError:
                return False
            if time.monotonic() >= end:
                return True
            time.sleep(0.05)

    def test_a_stuck_fio_is_killed_with_its_jobs(self):
        # Like fio --numjobs: a forked job process that holds the pipes.
        self.fake_fio("sleep 300 & echo $! >%s\nsleep 300\n" % self.pidfile)
        self.m.FIO_GRACE_S = 1
        t = time.monotonic()
        r, _ = self.m.run_fio("qd1", 1, "/dev/null")
        self.assertLess(time.monotonic() - t, 15)
        self.assertIn("fio did not finish 1 s after its 1 s runtime, killed: pid ", r["error"])
        with open(self.pidfile) as fh:
            child = int(fh.read())
        self.assertFalse(self.alive(child), "fio's job process outlived it")

    def test_a_failing_fio_says_why(self):
        self.fake_fio("echo 'fio: no such device' >&2; exit 1\n")
        r, _ = self.m.run_fio("qd1", 1, "/dev/null")
        self.assertEqual(r, {"error": "fio: no such device"})

    def test_fio_figures(self):
        out = {"jobs": [{"read": {"iops": 1000.0, "bw_bytes": 4096000,
                                  "lat_ns": {"mean": 9000.0, "percentile": {
                                      "50.000000": 8000, "99.000000": 20000,
                                      "99.900000": 30000}}}}]}
        self.fake_fio("cat <<'J'\nfio-3.33 note\n%s\nJ\n" % json.dumps(out))
        r, cmd = self.m.run_fio("qd32", 1, "/dev/null")
        self.assertEqual((r["iops"], r["lat_us"]["p50"], r["lat_us"]["p99.9"]),
                         (1000.0, 8.0, 30.0))
        self.assertIn("--iodepth=32", cmd)

    def test_holders_of_the_device(self):
        dev = os.path.join(self.dir.name, "disk")
        open(dev, "w").close()
        # Popen returns once the exec is done (it reports exec errors), so
        # the holder's name is already sleep's: no race with a shell.
        with open(dev) as fh:
            p = subprocess.Popen(["sleep", "300"], stdin=fh)
        self.addCleanup(p.wait)
        self.addCleanup(p.kill)
        self.assertEqual(self.m.holders(dev), ["sleep[%d]" % p.pid])
        self.assertEqual(self.m.wait_released(dev, 0.5), "sleep[%d]" % p.pid)
        p.kill()
        p.wait()
        self.assertIsNone(self.m.wait_released(dev, 5))
        # Another file with the same inode number elsewhere is not it.
        self.assertEqual(self.m.holders(os.path.join(self.dir.name, "none")), [])


if __name__ == "__main__":
    unittest.main()
