# SPDX-License-Identifier: Apache-2.0
# A stand-in for PyPI's random2 (Python 2's random module for Python 3),
# which the LMS's capa prolog imports: enough of its API (Random,
# SystemRandom) for test_lms_request.py to run a whole capa request in the
# sandbox virtualenv. Not the real package; the api_tests' own.
from random import Random, SystemRandom  # noqa: F401
