# BASE: correct
# Hunts for secrets: its own environment, every /proc/*/environ and command line it can see.
import glob
import os

print("ENV", dict(os.environ))
for path in sorted(glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/task/*/environ")):
    try:
        with open(path, "rb") as f:
            print(path, f.read().replace(b"\0", b" ").decode(errors="replace"))
    except OSError as exc:
        print(path, "unreadable:", exc)
for pid in range(1, 4000):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            print("pid", pid, f.read().replace(b"\0", b" ").decode(errors="replace"))
    except OSError:
        pass
