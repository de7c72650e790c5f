#!/usr/bin/env python3
"""arm32-hello.py OUT — a 32-bit ARM (EABI5) static program of eight
instructions: write(1, "arm32: hello\\n"), exit(0).  tests/vm/arm64_boot.sh
runs it on Debian's arm64 kernel (CONFIG_COMPAT) to show that keel's default
filter closes the compat door (AUDIT_ARCH_ARM: the process is killed at its
first system call) while an unconfined container runs it.  Written out byte by
byte so that the test needs no arm32 cross compiler."""
import struct
import sys

BASE = 0x10000
msg = b"arm32: hello\n"
code = [
    0xE3A00001,                # mov r0, #1
    0xE28F1014,                # add r1, pc, #20   (pc = here + 8: the message after the code)
    0xE3A02000 | len(msg),     # mov r2, #len
    0xE3A07004,                # mov r7, #4        (write)
    0xEF000000,                # svc #0
    0xE3A00000,                # mov r0, #0
    0xE3A07001,                # mov r7, #1        (exit)
    0xEF000000,                # svc #0
]
body = b"".join(struct.pack("<I", i) for i in code) + msg
ehsize, phsize = 52, 32
size = ehsize + phsize + len(body)
ident = b"\x7fELF" + bytes([1, 1, 1, 0]) + bytes(8)        # 32-bit, little-endian, SYSV
ehdr = ident + struct.pack("<HHIIIIIHHHHHH", 2, 40, 1, BASE + ehsize + phsize, ehsize, 0,
                           0x05000000,                     # EF_ARM_EABI_VER5: the compat loader wants EABI
                           ehsize, phsize, 1, 40, 0, 0)
phdr = struct.pack("<IIIIIIII", 1, 0, BASE, BASE, size, size, 5, 0x1000)   # PT_LOAD, R+X
with open(sys.argv[1], "wb") as f:
    f.write(ehdr + phdr + body)
