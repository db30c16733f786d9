#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Unit tests of bench_table's and bench-report's targets, on the small
# bench-matrix JSON files in testdata/: variants.json (6.12, 1 vCPU, three
# kernel variants: plain, pin and poll, some of their jobs failed) and
# plain.json (6.1, 2 vCPUs, vhu-kernel alone, as before the variants).
# Run by bench-smoke (make check); alone: python3 -m unittest -v from here.
import importlib.machinery, importlib.util, io, json, os, subprocess, sys
import tempfile, unittest

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


if __name__ == "__main__":
    unittest.main()
