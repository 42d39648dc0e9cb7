"""Importing rlcourse, agents or envs registers the rlcourse/ ids, as ecosystem packages do."""

from __future__ import annotations

import subprocess
import sys

import pytest

MAKE_BOTH = """
import gymnasium as gym
{imports}
env = gym.make("rlcourse/Bandit-v0")
env.reset(seed=0)
env = gym.make("rlcourse:rlcourse/GridWorld-v0")
env.reset(seed=0)
heavy = sorted(m for m in ("torch", "pandas", "matplotlib", "scipy") if m in sys.modules)
print("OK", heavy)
"""


@pytest.mark.parametrize(
    "imports", ["import sys, rlcourse", "import sys, agents", "import sys, envs"]
)
def test_importing_the_package_registers_the_ids_for_both_make_forms(imports):
    done = subprocess.run([sys.executable, "-c", MAKE_BOTH.format(imports=imports)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0].startswith("OK")
    if imports.endswith(("rlcourse", "envs")):  # cheap: no heavy library comes with the ids
        assert done.stdout.strip() == "OK []"


def test_gymnasiums_module_prefix_imports_rlcourse_itself():
    code = "import gymnasium as gym; gym.make('rlcourse:rlcourse/Bandit-v0'); print('OK')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"
    code = "import gymnasium as gym; gym.make('rlcourse/Bandit-v0')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "NamespaceNotFound" in done.stderr  # without any import: Gymnasium cannot know
