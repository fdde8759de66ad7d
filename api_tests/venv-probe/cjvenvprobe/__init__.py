# SPDX-License-Identifier: Apache-2.0
"""Installed only into the sandbox virtualenv of api_tests/run.sh exec-venv."""
VALUE = "from the sandbox virtualenv"


def triple(x):
    return 3 * x
