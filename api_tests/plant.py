#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Plant host objects that jailed code must neither see nor reach.

    plant.py DIR...

For each DIR makes DIR/cj-plant-<random>/ (0755) holding
  sock  a listening AF_UNIX stream socket anybody may connect to (0777)
  fifo  a FIFO anybody may open (0666)
  file  a world-readable file (0644)
prints one JSON line {"paths": {"sock": [...], "fifo": [...], "file": [...]}},
then serves the sockets until its stdin closes, removes everything, and
prints one JSON line {"accepted": N}: connections that reached a socket
(anything but 0 means a jail reached the host).

Run it on the service's host: api_tests/conftest.py starts it when the
service shares this filesystem (API_TEST_SERVICE_FS=local); a harness for a
remote host starts it there and passes the first line in API_TEST_PLANTED.
"""

import json
import os
import select
import shutil
import socket
import sys
import uuid


def main(dirs):
    made, socks = [], []
    paths = {"sock": [], "fifo": [], "file": []}
    try:
        for d in dirs:
            top = os.path.join(d, "cj-plant-" + uuid.uuid4().hex[:10])
            os.mkdir(top)
            made.append(top)
            os.chmod(top, 0o755)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(os.path.join(top, "sock"))
            os.chmod(os.path.join(top, "sock"), 0o777)
            s.listen(16)
            s.setblocking(False)
            socks.append(s)
            os.mkfifo(os.path.join(top, "fifo"))
            os.chmod(os.path.join(top, "fifo"), 0o666)
            with open(os.path.join(top, "file"), "w") as f:
                f.write("planted by api_tests/plant.py\n")
            os.chmod(os.path.join(top, "file"), 0o644)
            for k in paths:
                paths[k].append(os.path.join(top, k))
        print(json.dumps({"paths": paths}), flush=True)
        accepted = 0
        while True:
            r, _, _ = select.select([sys.stdin] + socks, [], [])
            if sys.stdin in r and not sys.stdin.buffer.read1(4096):
                break
            for s in socks:
                if s in r:
                    try:
                        c, _ = s.accept()
                        accepted += 1
                        c.close()
                    except BlockingIOError:
                        pass
        print(json.dumps({"accepted": accepted}), flush=True)
    finally:
        for s in socks:
            s.close()
        for top in made:
            shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
