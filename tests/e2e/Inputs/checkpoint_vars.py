"""Prints a SHA-256 of a version 2 checkpoint's model header and variables,
leaving out the host section (the trainer's position and curves, whose
seconds differ between runs), so two runs' weights and optimizer state can be
compared bit for bit; with a variable's name after the path, that variable's
values instead, one per line. The format is documented in
runtime/checkpoint.c."""
import hashlib
import struct
import sys

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"DLCCKPT\0", "not a dlc checkpoint"
(version,) = struct.unpack_from("<I", data, 8)
assert version == 2, f"format version {version}"
at = 12 + 8
(name_len,) = struct.unpack_from("<I", data, at)
at += 4 + name_len
(count,) = struct.unpack_from("<I", data, at)
at += 4 + 4  # the count, the header's CRC
wanted = sys.argv[2] if len(sys.argv) > 2 else None
for _ in range(count):
    (n,) = struct.unpack_from("<I", data, at)
    name = data[at + 4 : at + 4 + n].decode()
    (dtype,) = struct.unpack_from("<I", data, at + 4 + n)
    at += 4 + n + 4
    (rank,) = struct.unpack_from("<I", data, at)
    at += 4 + 8 * rank
    (size,) = struct.unpack_from("<Q", data, at)
    if name == wanted:
        for (v,) in struct.iter_unpack("<i" if dtype == 1 else "<f", data[at + 8 : at + 8 + size]):
            print(v)
        sys.exit(0)
    at += 8 + size + 4
if wanted is not None:
    sys.exit(f"no variable {wanted!r}")
print(hashlib.sha256(data[:at]).hexdigest(), count, "variables")
