#!/usr/bin/env python3
"""Mutates image files for scripts/fuzz.sh (standard library only).

usage: mutate.py SEED_FILES_DIR OUT_DIR COUNT RANDOM_SEED

Each output is one seed image with one to three mutations: bit flips, byte
overwrites, truncation, a splice of bytes from another seed, a PNG chunk
dropped, repeated, swapped or resized (CRCs recomputed half the time so the
decoder gets past them), or an edited header field (dimensions, bit depth,
colour type, TIFF offsets, JPEG segment lengths).
"""
import os
import random
import struct
import sys
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunks(data):
    if not data.startswith(PNG_SIGNATURE):
        return None
    chunks, at = [], 8
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        end = at + 12 + length
        if end > len(data):
            break
        chunks.append([data[at + 4:at + 8], data[at + 8:at + 8 + length]])
        at = end
    return chunks


def png_join(chunks, fix_crc, rng):
    out = bytearray(PNG_SIGNATURE)
    for kind, body in chunks:
        out += struct.pack(">I", len(body)) + kind + body
        crc = zlib.crc32(kind + body) if fix_crc else rng.getrandbits(32)
        out += struct.pack(">I", crc & 0xFFFFFFFF)
    return bytes(out)


def flip_bits(data, rng, _seeds):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return bytes(data)


def overwrite_bytes(data, rng, _seeds):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(data))
        data[i] = rng.choice([0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)])
    return bytes(data)


def truncate(data, rng, _seeds):
    return data[: rng.randrange(1, max(2, len(data)))]


def splice(data, rng, seeds):
    other = rng.choice(seeds)
    a, b = sorted(rng.randrange(len(other)) for _ in range(2))
    at = rng.randrange(len(data))
    return data[:at] + other[a:b] + data[at + rng.randrange(0, 64):]


def png_chunk_edit(data, rng, seeds):
    chunks = png_chunks(data)
    if not chunks:
        return splice(data, rng, seeds)
    op = rng.choice(["drop", "repeat", "swap", "resize", "foreign"])
    i = rng.randrange(len(chunks))
    if op == "drop" and len(chunks) > 1:
        del chunks[i]
    elif op == "repeat":
        chunks.insert(i, list(chunks[i]))
    elif op == "swap" and len(chunks) > 1:
        j = rng.randrange(len(chunks))
        chunks[i], chunks[j] = chunks[j], chunks[i]
    elif op == "resize":
        body = chunks[i][1]
        chunks[i][1] = body[: rng.randrange(len(body) + 1)] if body and rng.random() < 0.7 else body + bytes(rng.randrange(1, 16))
    else:
        kind = rng.choice([b"PLTE", b"tRNS", b"gAMA", b"sBIT", b"iCCP", b"IDAT", b"acTL", b"fcTL"])
        chunks.insert(i, [kind, bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))])
    return png_join(chunks, rng.random() < 0.5, rng)


def header_edit(data, rng, seeds):
    chunks = png_chunks(data)
    if chunks and chunks[0][0] == b"IHDR" and len(chunks[0][1]) == 13:
        ihdr = bytearray(chunks[0][1])
        field = rng.choice(["w", "h", "depth", "colour", "interlace"])
        big = rng.choice([0, 1, 2, 7, 65535, 1 << 20, 1 << 30, 0xFFFFFFFF, rng.getrandbits(32)])
        if field == "w":
            ihdr[0:4] = struct.pack(">I", big)
        elif field == "h":
            ihdr[4:8] = struct.pack(">I", big)
        elif field == "depth":
            ihdr[8] = rng.choice([1, 2, 4, 8, 16, 3, 0, 255])
        elif field == "colour":
            ihdr[9] = rng.choice([0, 2, 3, 4, 6, 1, 5, 7, 255])
        else:
            ihdr[12] = rng.choice([0, 1, 2])
        chunks[0][1] = bytes(ihdr)
        return png_join(chunks, rng.random() < 0.9, rng)
    data = bytearray(data)
    # TIFF, JPEG, BMP: the first bytes hold sizes, offsets and lengths.
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(min(len(data), 64))
        data[i] = rng.randrange(256)
    return bytes(data)


MUTATIONS = [flip_bits, overwrite_bytes, truncate, splice, png_chunk_edit, header_edit]


def main():
    seed_dir, out_dir, count, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    names = sorted(
        os.path.join(root, f)
        for root, _, files in os.walk(seed_dir)
        for f in files
        if f.lower().endswith((".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp"))
    )
    seeds = [open(n, "rb").read() for n in names]
    os.makedirs(out_dir, exist_ok=True)
    for k in range(count):
        i = rng.randrange(len(seeds))
        data = seeds[i]
        for _ in range(rng.randint(1, 3)):
            if not data:
                break
            data = rng.choice(MUTATIONS)(data, rng, seeds)
        ext = os.path.splitext(names[i])[1]
        with open(os.path.join(out_dir, f"m{seed}-{k:06d}{ext}"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
