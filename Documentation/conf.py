# SPDX-License-Identifier: GPL-2.0
#
# Sphinx configuration of vhu's documentation: make htmldocs.
#
# ".. kernel-doc:: FILE" directives (FILE relative to the top of the tree)
# include the kernel-doc comments of vhu's sources through the kernel's
# own Sphinx extension and scripts/kernel-doc, which make htmldocs takes
# from Debian's linux-source package into build/kernel-doc.

import os
import subprocess
import sys

top = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
kdoc = os.path.join(top, 'build', 'kernel-doc')
sys.path.insert(0, os.path.join(kdoc, 'Documentation', 'sphinx'))

project = 'vhu'
author = 'The vhu authors'
version = release = subprocess.run([os.path.join(top, 'scripts', 'version')],
                                   check=True, capture_output=True,
                                   text=True).stdout.strip()

extensions = ['kerneldoc']
kerneldoc_bin = os.path.join(kdoc, 'scripts', 'kernel-doc')
kerneldoc_srctree = top

root_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
html_title = 'vhu ' + version
