# BASE: correct
# A bounded fork storm at import: children ignore SIGTERM, leave the process group, sleep forever.
import os
import signal
import time

_forked = 0
for _ in range(400):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            os.setsid()
        except OSError:
            pass
        while True:
            time.sleep(1)
    _forked += 1
print(f"forked {_forked} children")
