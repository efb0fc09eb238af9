"""Stands in for the get-pip.py that ansible-test downloads to bootstrap pip in its virtualenvs.

Its download host is not reachable from the test machines; PyPI is. This installs pip with the
interpreter's own ensurepip, then lets that pip install what get-pip was asked for.
"""

import subprocess
import sys

SETUP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
packages = [arg for arg in sys.argv[1:] if arg not in SETUP_ONLY_FLAGS]
subprocess.check_call([sys.executable, "-m", "pip", "install", *packages])
