#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/: small inputs that each
exercise one meaningful path, in the input formats the targets document.
Run it after changing a format; reproducers of fixed bugs are kept by hand
(files named crash-*) and are not touched."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- xenstore: raw xsd_sockmsg frames; req_id % 3 picks the client (2 = guest) ---
XS = dict(DIRECTORY=1, READ=2, GET_PERMS=3, WATCH=4, UNWATCH=5, TRANSACTION_START=6,
          TRANSACTION_END=7, INTRODUCE=8, RELEASE=9, GET_DOMAIN_PATH=10, WRITE=11, MKDIR=12,
          RM=13, SET_PERMS=14, IS_DOMAIN_INTRODUCED=16, RESUME=18, SET_TARGET=19,
          RESET_WATCHES=21, DIRECTORY_PART=22)


def frame(op, payload, req_id=3, tx_id=0):
    t = XS[op] if isinstance(op, str) else op
    return struct.pack("<IIII", t, req_id, tx_id, len(payload)) + payload


def xenstore():
    write("xenstore", "write-read", frame("WRITE", b"/vm/name\0guest") + frame("READ", b"/vm/name\0")
          + frame("DIRECTORY", b"/vm\0") + frame("RM", b"/vm\0"))
    write("xenstore", "relative", frame("WRITE", b"rel\0v") + frame("READ", b"rel\0")
          + frame("GET_DOMAIN_PATH", b"7\0"))
    write("xenstore", "watch", frame("WATCH", b"/a\0tok\0") + frame("WRITE", b"/a/b\0x", 4)
          + frame("RM", b"/a\0") + frame("UNWATCH", b"/a\0tok\0") + frame("RESET_WATCHES", b""))
    write("xenstore", "special-watch", frame("WATCH", b"@introduceDomain\0t\0")
          + frame("WATCH", b"@releaseDomain\0u\0", 4) + frame("INTRODUCE", b"5\0" b"1234\0" b"7\0")
          + frame("IS_DOMAIN_INTRODUCED", b"5\0") + frame("RELEASE", b"5\0"))
    write("xenstore", "transaction", frame("TRANSACTION_START", b"\0")
          + frame("WRITE", b"/t/x\0" b"1", tx_id=1) + frame("WRITE", b"/t/x\0" b"2", req_id=6)
          + frame("TRANSACTION_END", b"T\0", tx_id=1) + frame("TRANSACTION_END", b"F\0", tx_id=9))
    write("xenstore", "perms", frame("WRITE", b"/p\0v") + frame("SET_PERMS", b"/p\0n1\0r0\0")
          + frame("GET_PERMS", b"/p\0") + frame("READ", b"/p\0", req_id=2)
          + frame("WRITE", b"/p\0w", req_id=5) + frame("MKDIR", b"/p/q\0", req_id=8))
    write("xenstore", "directory-part", frame("MKDIR", b"/d/a\0") + frame("MKDIR", b"/d/b\0")
          + frame("DIRECTORY_PART", b"/d\0" b"0\0") + frame("DIRECTORY_PART", b"/d\0" b"99\0"))
    write("xenstore", "malformed", frame(999, b"") + frame("READ", b"no-nul")
          + frame("WRITE", b"") + frame("READ", b"/a//b\0") + frame("DIRECTORY", b"\0\0")
          + frame("SET_TARGET", b"1\0" b"2\0") + frame("RESUME", b"3\0"))
    write("xenstore", "guest", frame("READ", b"/local/domain/0/name\0", req_id=2)
          + frame("WRITE", b"data/x\0" b"y", req_id=5) + frame("INTRODUCE", b"9\0" b"1\0" b"1\0", req_id=8))
    write("xenstore", "long-path", frame("WRITE", b"/" + b"x" * 3000 + b"\0v")
          + frame("READ", b"/" + b"y" * 2000 + b"\0"))
    write("xenstore", "oversized", frame("READ", b"/a\0") + struct.pack("<IIII", 2, 3, 0, 4097))


# --- pci-config: opcode records (see fuzz-pci-config.c) ---
def cfg_read(pick, reg, size_sel):
    return bytes([0, pick]) + struct.pack("<H", reg) + bytes([size_sel])


def cfg_write(pick, reg, size_sel, value):
    return bytes([1, pick]) + struct.pack("<H", reg) + bytes([size_sel]) + struct.pack("<I", value)


def bar(shape, idx, off, value=0):
    b = bytes([2, shape, idx]) + struct.pack("<I", off)
    return b + (struct.pack("<Q", value) if shape & 0x10 else b"")


def legacy(cf8, shape, value=0):
    b = bytes([3]) + struct.pack("<I", cf8) + bytes([shape])
    return b + (struct.pack("<I", value) if shape & 0x40 else b"")


FW = bytes([4])
POLL = bytes([5])
# pick_sbdf indexes: 0 host bridge, 1 xen-platform (02.0), 2 virtio-blk (04.0), 3 empty slot
HB, XP, VB, EMPTY = 0, 1, 2, 3
SZ1, SZ2, SZ4 = 0, 1, 2


def pci_config():
    ids = b"".join(cfg_read(d, r, SZ4) for d in (HB, XP, VB, EMPTY) for r in range(0, 0x40, 4))
    write("pci-config", "read-headers", ids)
    sizing = b""
    for d in (XP, VB):
        for b in range(6):
            reg = 0x10 + 4 * b
            sizing += cfg_write(d, reg, SZ4, 0xffffffff) + cfg_read(d, reg, SZ4)
        sizing += cfg_write(d, 0x30, SZ4, 0xfffff800) + cfg_read(d, 0x30, SZ4)
    write("pci-config", "bar-sizing", sizing)
    write("pci-config", "firmware-bars", FW + bar(0, 0, 0) + bar(1, 0, 0) + bar(1, 1, 0x10)
          + bar(0x11 | 4, 0, 0x14, 0x1) + bar(0x13, 1, 0x4000, 0) + POLL)
    write("pci-config", "bar-move", FW + cfg_write(VB, 0x20, SZ4, 0xd0000000)
          + cfg_write(VB, 0x04, SZ2, 0) + cfg_write(VB, 0x04, SZ2, 7) + cfg_write(XP, 0x10, SZ4, 0xc001)
          + cfg_write(VB, 0x20, SZ4, 0xffffffff) + cfg_write(VB, 0x24, SZ4, 0xffffffff) + FW)
    # Capability walk of virtio-blk: cap pointer, then a window of the list.
    caps = cfg_read(VB, 0x34, SZ1) + b"".join(cfg_read(VB, r, SZ4) for r in range(0x40, 0x100, 4))
    write("pci-config", "capabilities", caps)
    # MSI-X enable (message control at cap+2 found by the fuzzer; 0x40.. tried here) and the window cap.
    msix = FW + b"".join(cfg_write(VB, r, SZ2, 0xc000) for r in range(0x42, 0xa0, 4))
    msix += bar(0x15, 1, 0x4000, 0xfee00000) + bar(0x15, 1, 0x4008, 0x41) + bar(0x15, 1, 0x400c, 0)
    write("pci-config", "msix", msix)
    write("pci-config", "legacy-cf8", legacy(0x80000000, 2) + legacy(0x80001000, 2)
          + legacy(0x80002004, 0x41, 7) + legacy(0x80002010, 0x42, 0xffffffff)
          + legacy(0x7fffffff, 0x80 | 2) + legacy(0x80000002, 0x80 | 3))
    write("pci-config", "hostile", cfg_read(VB, 0x100, SZ4) + cfg_write(VB, 0xfff, 0xf3, 1)
          + cfg_read(VB, 0x3, 0xf4) + cfg_write(VB, 0x34, SZ1, 0x40) + cfg_write(HB, 0x04, SZ2, 0xffff)
          + cfg_write(VB, 0x06, SZ2, 0xffff) + bytes([1, 0xff]) + struct.pack("<I", 0x12345)
          + struct.pack("<H", 4) + bytes([SZ4]) + struct.pack("<I", 0))
    write("pci-config", "intx", cfg_write(VB, 0x3c, SZ1, 11) + cfg_write(VB, 0x04, SZ2, 0x400)
          + cfg_read(VB, 0x3d, SZ1) + cfg_read(VB, 0x06, SZ2))


# --- dispatch: flags byte, then records (see fuzz-dispatch.c) ---
PIO, COPY, PCI, TIMEOFF, INVAL = 0, 1, 2, 3, 4  # shaped_types indexes


def raw_ioreq(addr, data, count, size, vp_eport=0, state=1, data_is_ptr=0, dir_=0, df=0, type_=0,
              vcpu=0):
    flags = (state & 0xf) | (data_is_ptr & 1) << 4 | (dir_ & 1) << 5 | (df & 1) << 6
    return bytes([0]) + struct.pack("<QQIIIHBB", addr, data, count, size, vp_eport, 0, flags,
                                    type_) + bytes([vcpu])


def shaped(type_sel, size_log2, dir_, offset, pick, data, df=0, ptr=0, count=None, vcpu=0):
    shape = size_log2 | dir_ << 2 | df << 3 | ptr << 4 | (0x20 if count is not None else 0)
    b = bytes([1, type_sel, shape]) + struct.pack("<H", offset)
    if count is not None:
        b += bytes([count - 1])
    if type_sel == PCI:
        b += bytes([pick])
    else:
        b += bytes([pick])
    b += struct.pack("<I", data) if ptr else struct.pack("<Q", data)
    return b + bytes([vcpu])


def bufring(rp, dist, slots):
    return bytes([2]) + struct.pack("<IH", rp, dist) + b"".join(struct.pack("<Q", s) for s in slots)


def buf_slot(type_, size_log2, addr, data, dir_=0):
    # buf_ioreq_t: type:8 pad:1 dir:1 size:2 addr:20 data:32
    w = (type_ & 0xff) | (dir_ & 1) << 9 | (size_log2 & 3) << 10 | (addr & 0xfffff) << 12
    return w | (data & 0xffffffff) << 32


def ram(gpa, data):
    return bytes([3]) + struct.pack("<I", gpa) + bytes([len(data)]) + data


def dispatch():
    IOREQ_READ, IOREQ_WRITE = 1, 0
    uart = b"".join(shaped(PIO, 0, IOREQ_WRITE, 0, 0, c) for c in b"hello") + shaped(PIO, 0, IOREQ_READ, 5, 0, 0)
    write("dispatch", "uart-pio", bytes([1]) + uart)
    write("dispatch", "raw-pio", bytes([0]) + raw_ioreq(0x3f8, 0x41, 1, 1, dir_=IOREQ_WRITE)
          + raw_ioreq(0x3fd, 0, 1, 1, dir_=IOREQ_READ) + raw_ioreq(0xcf8, 0x80000000, 1, 4)
          + raw_ioreq(0xcfc, 0, 1, 4, dir_=IOREQ_READ))
    write("dispatch", "pci-config", bytes([1]) + b"".join(
        shaped(PCI, 2, IOREQ_READ, reg, pick, 0) for pick in (0, 1, 2, 3) for reg in (0, 4, 8, 0x10, 0x34))
          + shaped(PCI, 2, IOREQ_WRITE, 0x10, 2, 0xffffffff) + shaped(PCI, 1, IOREQ_WRITE, 4, 2, 7))
    write("dispatch", "rep-ptr", bytes([1]) + ram(0x1000, b"ABCDEFGHIJKLMNOP")
          + shaped(PIO, 0, IOREQ_WRITE, 0, 0, 0x1000, ptr=1, count=16)
          + shaped(PIO, 0, IOREQ_READ, 0, 0, 0x2000, ptr=1, count=16, df=1)
          + shaped(COPY, 2, IOREQ_READ, 0, 0, 0x3000, ptr=1, count=4)
          + shaped(COPY, 3, IOREQ_WRITE, 0, 1, 0x1000, ptr=1, count=2))
    write("dispatch", "mmio", bytes([1]) + b"".join(
        shaped(COPY, s, d, off, pick, 0x12345678) for pick in range(4) for s in (0, 2, 3)
        for d in (0, 1) for off in (0, 0x14, 0x1000, 0x3000, 0x4000)))
    write("dispatch", "misc-types", bytes([0]) + shaped(TIMEOFF, 3, 0, 0, 0, 1234567)
          + shaped(INVAL, 3, 0, 0, 0, 0) + raw_ioreq(0, 0, 1, 8, type_=9, dir_=IOREQ_READ)
          + raw_ioreq(0x3f8, 0, 0xffffffff, 1) + raw_ioreq(0x3f8, 0, 1, 3) + raw_ioreq(0xffff, 0, 1, 4)
          + raw_ioreq(0xfffffffffffffffc, 0, 2, 8, type_=1) + raw_ioreq(0, 0x3ffff0, 4, 4, data_is_ptr=1)
          + raw_ioreq(0x10, 0, 4, 4, df=1, data_is_ptr=1, dir_=IOREQ_READ))
    write("dispatch", "bufring", bytes([0]) + bufring(0, 4, [
        buf_slot(0, 0, 0x3f8, 0x41), buf_slot(1, 3, 0xe0000, 0x11111111), buf_slot(1, 3, 0, 0x22222222),
        buf_slot(3, 0, 0, 60)]) + bufring(0xfffffffe, 3, [buf_slot(0, 1, 0x3fb, 0x83, 1),
                                                           buf_slot(0, 0, 0x3f8, 0x1), buf_slot(1, 3, 0, 0)])
          + bufring(5, 0x8000, []) + struct.pack("<I", 0x10000))
    # A virtio-blk driver: rings and one OUT request in RAM, bring-up over MMIO, a notification.
    q_desc, q_avail, q_used, hdr, buf = 0x10000, 0x11000, 0x12000, 0x13000, 0x14000
    chain = (struct.pack("<QIHH", hdr, 16, 1, 1) + struct.pack("<QIHH", buf, 512, 1, 2)
             + struct.pack("<QIHH", hdr + 16, 1, 2, 0))
    virtio_init = bytes([5]) + struct.pack("<IBHIII", 0, 1, 16, q_desc, q_avail, q_used)
    write("dispatch", "virtio-blk", bytes([1]) + ram(q_desc, chain) + ram(hdr, struct.pack("<IIQ", 1, 0, 2))
          + ram(buf, b"\xa5" * 200) + ram(q_avail, struct.pack("<HHH", 0, 1, 0)) + virtio_init
          + bytes([6, 0]) + bytes([4]) + ram(hdr, struct.pack("<IIQ", 0, 0, 2))
          + ram(q_avail, struct.pack("<HHHH", 0, 2, 0, 0)) + bytes([6, 0]) + bytes([4]))
    write("dispatch", "xen-platform", bytes([1]) + shaped(PIO, 1, 1, 0, 1, 0)
          + shaped(PIO, 1, 0, 0, 1, 0x49d2) + shaped(PIO, 0, 0, 2, 1, 3) + shaped(PIO, 1, 0, 0, 1, 1)
          + shaped(PIO, 0, 1, 1, 1, 0) + b"".join(shaped(PIO, 0, 0, 2, 1, c) for c in b"log line\n"))


# --- virtqueue: header, actions, RAM image (see fuzz-virtqueue.c) ---
RAM = 16 * 1024


class Image:
    def __init__(self):
        self.b = bytearray(RAM)

    def put(self, off, data):
        self.b[off:off + len(data)] = data

    def desc(self, table, i, addr, length, flags, nxt):
        self.put(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def trimmed(self):
        return bytes(self.b).rstrip(b"\0")


def vq_header(blk, log2size, desc, avail, used, nr_ops, indirect=0, event_idx=0, ack_all=1, ro=0):
    b0 = (1 if blk else 0) | indirect << 1 | event_idx << 2 | ack_all << 3 | log2size << 4
    return bytes([b0]) + struct.pack("<HHH", desc, avail, used) + bytes([nr_ops | ro << 7])


NEXT, WRITE, INDIRECT = 1, 2, 4
DESC, AVAIL, USED = 0x0, 0x800, 0x1000   # for 8 entries: 128 B of descriptors
HDRS, DATA = 0x2000, 0x3000


def blk_image(reqs, indirect=False):
    """reqs: (type, sector, data_len, data_writable) tuples, one chain each."""
    im = Image()
    nd = 0
    for n, (t, sector, dlen, dw) in enumerate(reqs):
        h = HDRS + 32 * n
        im.put(h, struct.pack("<IIQ", t, 0, sector))
        st = h + 16
        head = nd
        if dlen:
            im.desc(DESC, nd, h, 16, NEXT, nd + 1)
            im.desc(DESC, nd + 1, DATA + 0x200 * n, dlen, NEXT | (WRITE if dw else 0), nd + 2)
            im.desc(DESC, nd + 2, st, 1, WRITE, 0)
            nd += 3
        else:
            im.desc(DESC, nd, h, 16, NEXT, nd + 1)
            im.desc(DESC, nd + 1, st, 1, WRITE, 0)
            nd += 2
        im.put(AVAIL + 4 + 2 * n, struct.pack("<H", head))
    im.put(AVAIL + 2, struct.pack("<H", len(reqs)))
    return im


def actions(*ops):
    return b"".join(bytes(o) for o in ops)


def virtqueue():
    IN, OUT, FLUSH, GET_ID, DISCARD, WZ = 0, 1, 4, 8, 11, 13
    NOTIFY, COMPLETE, DRAIN, POKE, RESET, LOOP, NOTIFS = 0, 1, 2, 3, 4, 5, 6
    # virtio-blk: write, read, flush, get-id on a 16-entry queue.
    im = blk_image([(OUT, 1, 512, False), (IN, 1, 512, True), (FLUSH, 0, 0, False), (GET_ID, 0, 20, True)])
    acts = actions([NOTIFY, 0, 0, 0], [COMPLETE, 1, 0, 0], [COMPLETE, 0, 1, 0], [DRAIN, 0, 0, 0],
                   [NOTIFS, 1, 0, 0])
    write("virtqueue", "blk-rw", vq_header(1, 4, DESC, AVAIL, USED, 5) + acts + im.trimmed())
    im = blk_image([(DISCARD, 0, 16, False), (WZ, 8, 16, False), (99, 0, 0, False), (IN, 200, 512, True)])
    im.put(DATA, struct.pack("<QII", 0, 8, 0))
    im.put(DATA + 0x200, struct.pack("<QII", 8, 8, 1))
    write("virtqueue", "blk-dwz", vq_header(1, 4, DESC, AVAIL, USED, 3, event_idx=1)
          + actions([NOTIFY, 0, 0, 0], [DRAIN, 0, 0, 0], [LOOP, 0, 0, 0]) + im.trimmed())
    # A request in flight across a reset, then the driver moving avail idx under the device.
    im = blk_image([(OUT, 0, 512, False), (IN, 0, 512, True)])
    write("virtqueue", "blk-reset", vq_header(1, 4, DESC, AVAIL, USED, 5, ro=1)
          + actions([NOTIFY, 0, 0, 0], [RESET, 0, 0, 0], [POKE, (AVAIL + 2) & 0xff, (AVAIL + 2) >> 8, 2],
                    [NOTIFY, 0, 0, 0], [DRAIN, 0, 0, 0]) + im.trimmed())
    # Indirect table holding header, data and status.
    im = Image()
    tbl = 0x2800
    im.desc(DESC, 0, tbl, 48, INDIRECT, 0)
    im.put(HDRS, struct.pack("<IIQ", IN, 0, 0))
    im.desc(tbl, 0, HDRS, 16, NEXT, 1)
    im.desc(tbl, 1, DATA, 512, NEXT | WRITE, 2)
    im.desc(tbl, 2, HDRS + 16, 1, WRITE, 0)
    im.put(AVAIL + 2, struct.pack("<H", 1))
    write("virtqueue", "blk-indirect", vq_header(1, 3, DESC, AVAIL, USED, 2, indirect=1)
          + actions([NOTIFY, 0, 0, 0], [DRAIN, 0, 0, 0]) + im.trimmed())
    # Hostile chains: a loop, a next out of range, a buffer past RAM, nested indirect, no status.
    for name, setup in (
        ("blk-loop", lambda im: (im.desc(DESC, 0, HDRS, 16, NEXT, 1), im.desc(DESC, 1, DATA, 16, NEXT, 0))),
        ("blk-next-range", lambda im: im.desc(DESC, 0, HDRS, 16, NEXT, 200)),
        ("blk-outside-ram", lambda im: (im.desc(DESC, 0, HDRS, 16, NEXT, 1), im.desc(DESC, 1, RAM - 8, 16, WRITE, 0))),
        ("blk-nested-indirect", lambda im: (im.desc(DESC, 0, 0x2800, 16, INDIRECT, 0), im.desc(0x2800, 0, 0x2900, 16, INDIRECT, 0))),
        ("blk-no-status", lambda im: im.desc(DESC, 0, HDRS, 16, 0, 0)),
    ):
        im = Image()
        setup(im)
        im.put(AVAIL + 2, struct.pack("<H", 1))
        write("virtqueue", name, vq_header(1, 3, DESC, AVAIL, USED, 3, indirect=1)
              + actions([NOTIFY, 0, 0, 0], [RESET, 0, 0, 0], [NOTIFY, 0, 0, 0]) + im.trimmed())
    # The descriptor table at the very end of RAM, a next index far past it: a missing
    # bound on next reads beyond guest RAM, which the sanitizer sees.
    im = Image()
    edge = RAM - 128
    im.desc(edge, 0, HDRS, 16, NEXT, 200)
    im.put(AVAIL + 2, struct.pack("<H", 1))
    write("virtqueue", "blk-next-past-ram", vq_header(1, 3, edge, AVAIL, USED, 1, indirect=1)
          + actions([NOTIFY, 0, 0, 0]) + im.trimmed())
    # Bare virtqueue: pops held and pushed out of order, avail idx jumping, a bad push.
    POP, PUSH, BPOKE, BNOTIFS, RESTART, POPALL = 0, 1, 2, 3, 4, 5
    im = blk_image([(OUT, 0, 64, False), (IN, 0, 64, True), (GET_ID, 0, 0, False)])
    write("virtqueue", "bare-pop-push", vq_header(0, 3, DESC, AVAIL, USED, 8, event_idx=1)
          + actions([POP, 0, 0, 0], [POP, 0, 4, 0x20], [PUSH, 1, 0, 16], [PUSH, 0, 0, 0],
                    [BNOTIFS, 0, 0, 0], [POP, 1, 0, 0], [PUSH, 0x80, 0xff, 0], [BNOTIFS, 1, 0, 0])
          + im.trimmed())
    im.put(AVAIL + 2, struct.pack("<H", 40))
    write("virtqueue", "bare-avail-jump", vq_header(0, 3, DESC, AVAIL, USED, 3)
          + actions([POPALL, 0, 0, 0], [RESTART, 0, 0, 0], [POPALL, 0, 0, 0]) + im.trimmed())
    write("virtqueue", "bare-misaligned", vq_header(0, 3, DESC + 8, AVAIL + 1, USED + 2, 1)
          + actions([POP, 0, 0, 0]))
    write("virtqueue", "bare-size-raw", bytes([0xf0]) + struct.pack("<HHH", DESC, AVAIL, USED)
          + bytes([1]) + struct.pack("<H", 3) + actions([POP, 0, 0, 0]))


# --- virtio-net: header, queue layouts, actions, RAM image (see fuzz-virtio-net.c) ---
VN_NOTIFY, VN_READABLE, VN_WRITABLE, VN_ANSWERS, VN_POKE, VN_RESET, VN_CFG, VN_LOOP, VN_LINK, \
    VN_ENABLE = 0, 3, 4, 5, 6, 7, 8, 9, 10, 11
VN_CSUM, VN_MTU, VN_MRG, VN_CTRL_VQ, VN_CTRL_RX, VN_MQ, VN_CTRL_MAC = 0, 3, 15, 17, 18, 22, 23
VN_ALL = (1 << 64) - 1
VN_DATA = 0x1400           # buffers from here; queue q's rings at 0x200 * q
VN_MAC = bytes([0x02, 0x49, 0x00, 0x01, 0x00, 0x18])


def vn_queue(q):
    """desc, avail, used of queue q (16 entries each)."""
    return 0x200 * q, 0x200 * q + 0x100, 0x200 * q + 0x140


def vn_header(pairs, nr_ops, features=VN_ALL, vnet_hdr=1, mtu=0, loop=0, indirect=0, event_idx=0,
              maps=None):
    """maps: None, or 0-3 for 1, 4, 16, 64 guest mappings beyond the rings'."""
    b0 = (pairs - 1) | vnet_hdr << 2 | mtu << 3 | loop << 4 | indirect << 5 | event_idx << 6 \
        | (maps is not None) << 7
    out = bytes([b0]) + struct.pack("<Q", features) + bytes([nr_ops | (maps or 0) << 6])
    for q in range(2 * pairs + 1):
        out += bytes([4]) + struct.pack("<HHH", *vn_queue(q))
    return out


class VnImage(Image):
    """Chains in queue rings; buffers allocated upwards from VN_DATA."""

    def __init__(self):
        super().__init__()
        self.next_buf = VN_DATA
        self.nd = {}
        self.navail = {}

    def buf(self, data=b"", size=None):
        addr = self.next_buf
        self.put(addr, data)
        self.next_buf += ((size if size is not None else max(len(data), 1)) + 15) // 16 * 16
        return addr

    def chain(self, q, segs):
        """segs: (bytes or size, writable) pairs; one chain on queue q, made available."""
        desc, avail, _ = vn_queue(q)
        head = self.nd.get(q, 0)
        for i, (what, w) in enumerate(segs):
            n = head + i
            if w:
                addr, length = self.buf(size=what), what
            else:
                addr, length = self.buf(what), len(what)
            last = i == len(segs) - 1
            self.desc(desc, n, addr, length, (0 if last else NEXT) | (WRITE if w else 0),
                      0 if last else n + 1)
        self.nd[q] = head + len(segs)
        k = self.navail.get(q, 0)
        self.put(avail + 4 + 2 * k, struct.pack("<H", head))
        self.navail[q] = k + 1
        self.put(avail + 2, struct.pack("<H", k + 1))


def vn_ctrl(im, ctrlq, cls, cmd, data=b"", ack=1):
    im.chain(ctrlq, [(bytes([cls, cmd]) + data, False), (ack, True)])


def vn_tx_frame(dst=b"\xff" * 6, payload=60, flags=0, gso=0):
    return struct.pack("<BBHHHHH", flags, gso, 0, 0, 0, 0, 0) + dst + VN_MAC + b"\x08\x00" + bytes(payload)


def virtio_net():
    # Control queue, class RX: promiscuous off, all-multicast on, then refusals (wrong length,
    # unknown command, unknown class); a frame for another MAC is then filtered.
    im = VnImage()
    for c in ((0, 0, b"\0"), (0, 1, b"\1"), (0, 0, b"\0\0"), (0, 7, b"\1"), (9, 0, b"\0")):
        vn_ctrl(im, 2, *c)
    im.chain(0, [(256, True)])
    write("virtio-net", "ctrl-rx", vn_header(1, 4) + actions(
        [VN_NOTIFY, 2, 0, 0], [VN_NOTIFY, 0, 0, 0], [VN_READABLE, 3, 80, 0], [VN_READABLE, 1, 80, 0])
        + im.trimmed())
    # MAC_TABLE_SET: a good pair of tables, entry counts past the data (2^32 - 1, one more than
    # given), more entries than the table holds (accept all), bytes after the tables.
    im = VnImage()
    good = struct.pack("<I", 2) + b"\x02\0\0\0\0\1" + b"\x02\0\0\0\0\2" + struct.pack("<I", 1) \
        + b"\x01\0\x5e\0\0\1"
    many = struct.pack("<I", 65) + bytes(6 * 65) + struct.pack("<I", 0)
    for data in (good, struct.pack("<II", 0xffffffff, 0), struct.pack("<I", 3) + bytes(12)
                 + struct.pack("<I", 0), many, good + b"\0", struct.pack("<I", 0)):
        vn_ctrl(im, 2, 1, 0, data)
    write("virtio-net", "ctrl-mac-table", vn_header(1, 1) + actions([VN_NOTIFY, 2, 0, 0])
          + im.trimmed())
    # MAC_ADDR_SET of 6 and of 5 bytes, then the MAC read back from config space.
    im = VnImage()
    vn_ctrl(im, 2, 1, 1, b"\x02\x11\x22\x33\x44\x55")
    vn_ctrl(im, 2, 1, 1, b"\x02\x11\x22\x33\x44")
    write("virtio-net", "ctrl-mac-addr", vn_header(1, 3) + actions(
        [VN_NOTIFY, 2, 0, 0], [VN_CFG, 0, 2, 0], [VN_CFG, 4, 1, 0]) + im.trimmed())
    # Four pairs: VQ_PAIRS_SET to 3, 0, 5, 0xffff, 4 (three refused); frames on pair 3 and
    # back to one pair; the control queue is queue 8.
    im = VnImage()
    for n in (3, 0, 5, 0xffff, 4):
        vn_ctrl(im, 8, 4, 0, struct.pack("<H", n))
    vn_ctrl(im, 8, 4, 1, struct.pack("<H", 2))
    im.chain(6, [(128, True)])
    vn_ctrl(im, 8, 4, 0, struct.pack("<H", 1))
    write("virtio-net", "ctrl-mq", vn_header(4, 5) + actions(
        [VN_NOTIFY, 8, 0, 0], [VN_NOTIFY, 6, 0, 0], [VN_READABLE, 3, 64, 0], [VN_READABLE, 7, 64, 0],
        [VN_NOTIFY, 8, 0, 0]) + im.trimmed())
    # Chains against the rules: an answer byte the device cannot write, then (after a reset and
    # a fresh bring-up) a command without its header, then one whose header is writable.
    for name, segs in (("ctrl-no-ack", [(b"\0\0\1", False)]),
                       ("ctrl-short", [(b"\0", False), (1, True)]),
                       ("ctrl-writable-header", [(3, True), (1, True)])):
        im = VnImage()
        im.chain(2, segs)
        write("virtio-net", name, vn_header(1, 3) + actions(
            [VN_NOTIFY, 2, 0, 0], [VN_RESET, 1, 0, 0], [VN_NOTIFY, 2, 0, 0]) + im.trimmed())
    # A control chain that loops, and one that is larger than any command.
    im = VnImage()
    desc, avail, _ = vn_queue(2)
    im.desc(desc, 0, VN_DATA, 2, NEXT, 1)
    im.desc(desc, 1, VN_DATA + 16, 1, NEXT | WRITE, 0)
    im.put(avail + 2, struct.pack("<H", 1))
    write("virtio-net", "ctrl-loop", vn_header(1, 1) + actions([VN_NOTIFY, 2, 0, 0]) + im.trimmed())
    im = VnImage()
    im.chain(2, [(bytes([1, 0]) + bytes(4000), False), (bytes(2000), False), (1, True)])
    write("virtio-net", "ctrl-oversize", vn_header(1, 1) + actions([VN_NOTIFY, 2, 0, 0])
          + im.trimmed())
    # Transmit: a frame, one split over three descriptors, a runt, a checksum offload, TSO4,
    # a header only; then the backend full (the chain waits) and writable again.
    im = VnImage()
    f = vn_tx_frame()
    im.chain(1, [(f, False)])
    im.chain(1, [(f[:12], False), (f[12:20], False), (f[20:], False)])
    im.chain(1, [(f[:20], False)])
    im.chain(1, [(vn_tx_frame(flags=1), False)])
    im.chain(1, [(vn_tx_frame(flags=1, gso=1, payload=1400), False)])
    write("virtio-net", "tx", vn_header(1, 1) + actions([VN_NOTIFY, 1, 0, 0]) + im.trimmed())
    im = VnImage()
    im.chain(1, [(f, False)])
    im.chain(1, [(f, False)])
    write("virtio-net", "tx-full", vn_header(1, 5, loop=1) + actions(
        [VN_ANSWERS, 1, 0, 0], [VN_NOTIFY, 1, 0, 0], [VN_LOOP, 0, 0, 0], [VN_ANSWERS, 0, 0, 0],
        [VN_WRITABLE, 0, 0, 0]) + im.trimmed())
    write("virtio-net", "tx-no-map-space", vn_header(1, 1, maps=1) + actions([VN_NOTIFY, 1, 0, 0])
          + im.trimmed())
    im = VnImage()
    im.chain(1, [(f[:8], False)])
    im.chain(1, [(f, False), (64, True)])
    write("virtio-net", "tx-no-header", vn_header(1, 3, vnet_hdr=0) + actions(
        [VN_NOTIFY, 1, 0, 0], [VN_RESET, 1, 0, 0], [VN_NOTIFY, 1, 0, 0]) + im.trimmed())
    # Receive with mergeable buffers: a frame over three 64-byte buffers, a broadcast, one for
    # another MAC, one too large for every buffer posted, a backend error.
    im = VnImage()
    for _ in range(6):
        im.chain(0, [(64, True)])
    write("virtio-net", "rx-mrg", vn_header(1, 7) + actions(
        [VN_NOTIFY, 0, 0, 0], [VN_READABLE, 0, 150, 0], [VN_READABLE, 1, 40, 0],
        [VN_READABLE, 3, 40, 0], [VN_READABLE, 0, 0, 4], [VN_ANSWERS, 8, 0, 0],
        [VN_READABLE, 0, 30, 0]) + im.trimmed())
    # Mapping space for one buffer only: the frame waits for a second one that cannot be
    # mapped while the first is held; a reset gives everything back.
    write("virtio-net", "rx-mrg-no-map-space", vn_header(1, 4, maps=0) + actions(
        [VN_NOTIFY, 0, 0, 0], [VN_READABLE, 0, 150, 0], [VN_READABLE, 0, 150, 0],
        [VN_RESET, 1, 0, 0]) + im.trimmed())
    # Without MRG_RXBUF and without a vnet header from the backend: one buffer per frame.
    im = VnImage()
    im.chain(0, [(20, True), (100, True)])
    im.chain(0, [(40, True)])
    write("virtio-net", "rx-one-buffer", vn_header(1, 4, features=VN_ALL & ~(1 << VN_MRG), vnet_hdr=0,
                                                    mtu=1) + actions(
        [VN_NOTIFY, 0, 0, 0], [VN_READABLE, 0, 100, 0], [VN_READABLE, 0, 100, 0],
        [VN_READABLE, 0x80, 0, 0]) + im.trimmed())
    # Receive buffers the device may read (wrong direction), or smaller than the header.
    for name, segs in (("rx-readable", [(b"\0" * 64, False), (64, True)]),
                       ("rx-tiny", [(4, True)])):
        im = VnImage()
        im.chain(0, segs)
        write("virtio-net", name, vn_header(1, 2) + actions(
            [VN_NOTIFY, 0, 0, 0], [VN_READABLE, 0, 60, 0]) + im.trimmed())
    # Config space, link down and up, the platform's unplug, feature sets the device refuses.
    write("virtio-net", "cfg-link", vn_header(2, 8, mtu=1) + actions(
        [VN_CFG, 0, 2, 0], [VN_CFG, 6, 1, 0], [VN_CFG, 8, 1, 0], [VN_CFG, 10, 1, 0],
        [VN_CFG, 1, 2, 0xaa], [VN_LINK, 0, 0, 0], [VN_ENABLE, 0, 0, 0], [VN_CFG, 6, 1, 0]))
    write("virtio-net", "features-refused", vn_header(1, 2, features=1 << VN_CTRL_RX)
          + actions([VN_NOTIFY, 2, 0, 0], [VN_RESET, 1, 0, 0]))


GENERATORS = dict(xenstore=xenstore, **{"pci-config": pci_config}, dispatch=dispatch,
                  virtqueue=virtqueue, **{"virtio-net": virtio_net})

if __name__ == "__main__":
    for name in sys.argv[1:] or GENERATORS:
        GENERATORS[name]()
