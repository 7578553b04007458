# SPDX-License-Identifier: Apache-2.0
"""Makes the fixtures of kbsfs_testlib (documented there) available to every test here."""
from kbsfs_testlib import *  # noqa: F401,F403
