"""Minimal .npy reading and writing without NumPy (CI has plain python3), to
test dlc predict's formats: the format is NumPy's documented version 1.0.

  npy.py write-u8 PATH N        N pseudo-random 28x28 uint8 images
  npy.py u8-to-f32 SRC DST      the same images as float32 in [0, 1]
  npy.py u8-to-csv SRC DST K    the first K images as CSV (pixels / 255), with a header
  npy.py summary PATH           shape, dtype, largest |row sum - 1|
  npy.py compare A.npy B.csv    the largest difference between the two
  npy.py idx-to-npy IDX.gz DST [N] [DESCR]
                                an IDX file of unsigned bytes (gzipped) as .npy: the
                                same bytes (|u1), or int32 or float32 values (<i4,
                                <f4); the first N along the first dim
  npy.py idx-to-csv IDX.gz DST [N]   an IDX file of labels as CSV, one per line
"""
import gzip
import struct
import sys


def write(path, descr, shape, payload):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload)


def read(path):
    data = open(path, "rb").read()
    assert data[:6] == b"\x93NUMPY", "not a .npy file"
    (n,) = struct.unpack_from("<H", data, 8)
    header = eval(data[10:10 + n].decode())  # a Python dict literal, by the format
    body = data[10 + n:]
    count = 1
    for d in header["shape"]:
        count *= d
    if header["descr"] == "<f4":
        values = list(struct.unpack("<%df" % count, body))
    else:
        assert header["descr"] == "|u1"
        values = list(body)
    return header["shape"], header["descr"], values


def read_idx(path):
    data = gzip.open(path, "rb").read()
    rank = data[3]
    shape = struct.unpack_from(">%dI" % rank, data, 4)
    return tuple(shape), data[4 + 4 * rank:]


def main():
    cmd = sys.argv[1]
    if cmd == "write-u8":
        n, state, pixels = int(sys.argv[3]), 12345, bytearray()
        for _ in range(n * 28 * 28):
            state = (state * 1103515245 + 12345) % 2 ** 31
            pixels.append(state >> 23)
        write(sys.argv[2], "|u1", (n, 28, 28), bytes(pixels))
    elif cmd == "u8-to-f32":
        shape, _, values = read(sys.argv[2])
        write(sys.argv[3], "<f4", shape, struct.pack("<%df" % len(values), *[v / 255 for v in values]))
    elif cmd == "u8-to-csv":
        shape, _, values = read(sys.argv[2])
        k, size = int(sys.argv[4]), shape[1] * shape[2]
        with open(sys.argv[3], "w") as f:
            f.write("pixels\n")
            for r in range(k):
                f.write(",".join(repr(v / 255) for v in values[r * size:(r + 1) * size]) + "\n")
    elif cmd == "summary":
        shape, descr, values = read(sys.argv[2])
        cols = shape[1]
        worst = max(abs(sum(values[r * cols:(r + 1) * cols]) - 1) for r in range(shape[0]))
        print("shape", shape, descr, "row sums within", "1e-5" if worst < 1e-5 else worst)
    elif cmd == "compare":
        _, _, a = read(sys.argv[2])
        b = [float(x) for line in open(sys.argv[3]) for x in line.split(",")]
        print("largest difference", max(abs(x - y) for x, y in zip(a, b)), "over", len(b), "values")
    elif cmd in ("idx-to-npy", "idx-to-csv"):
        shape, body = read_idx(sys.argv[2])
        n = int(sys.argv[4]) if len(sys.argv) > 4 else shape[0]
        size = len(body) // shape[0]
        shape, body = (n,) + shape[1:], body[:n * size]
        if cmd == "idx-to-csv":
            with open(sys.argv[3], "w") as f:
                f.write("label\n" + "".join("%d\n" % v for v in body))
            return
        descr = sys.argv[5] if len(sys.argv) > 5 else "|u1"
        payload = body if descr == "|u1" else struct.pack(
            "<%d%s" % (len(body), "i" if descr == "<i4" else "f"), *body)
        write(sys.argv[3], descr, shape, payload)


main()
