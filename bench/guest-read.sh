#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of bench/read.sh: /dev/vda is the ext4 disk bench/read.sh made.
# Mounts it, loads the module and hands over to one python process
# (bench/guest-bench.py) that sets up every contender and runs every measurement.
# Usage: guest-read.sh REPS RAND_OPS SHA_MIB
set -euo pipefail
# veritysetup must not wait for udev to create /dev/mapper nodes.
export DM_DISABLE_UDEV=1
mkdir -p /tmp/bench/disk
mount -t ext4 /dev/vda /tmp/bench/disk
insmod "$RERO_MODULE"
# -I -S: no site import (it costs seconds per start in the guest).
python3 -I -S "$RERO_TOP/bench/guest-bench.py" /tmp/bench/disk "$@"
rmmod rerofs
umount /tmp/bench/disk
