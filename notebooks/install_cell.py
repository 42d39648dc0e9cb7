# On Colab (or anywhere rlcourse is missing) install it; elsewhere this does nothing.
# RLCOURSE_PIP names what to install: a git URL or a wheel of your copy (default: rlcourse).
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("rlcourse") is None:
    source = os.environ.get("RLCOURSE_PIP", "rlcourse")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)
