# BASE: correct
# A non-daemon thread that never ends, started at import.
import threading
import time


def _forever():
    while True:
        time.sleep(0.05)


threading.Thread(target=_forever, daemon=False).start()
