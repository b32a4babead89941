/*
 * console_io, as drivers/char/console.c answers a domU. Xen's default XSM
 * policy lets a domU write only when Xen is built with
 * CONFIG_VERBOSE_DEBUG; the mock answers as such a build does, so that the
 * firmware's console output is seen: CONSOLEIO_write is taken 127 bytes at
 * a time, non-printable characters other than tab are dropped, and text is
 * kept in the domain's 200-byte buffer until a newline, or until it would
 * not fit, when buffer and chunk go out as one line (guest_console_write).
 * Every other command is dom0's (-EPERM). Xen would go on through a write
 * of any length with continuations; the mock takes HC_CONSOLE_MAX bytes of
 * one call and drops (and counts) the rest.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "hc-internal.h"

#include <xen/xen.h>

#define KBUF 128

static void emit(struct hv_hypercalls *h, unsigned vcpu, const char *kout, size_t n)
{
    char line[HC_PBUF_SIZE + KBUF];
    size_t len = h->pbuf_idx;

    memcpy(line, h->pbuf, len);
    memcpy(line + len, kout, n);
    len += n;
    line[len] = '\0';
    h->pbuf_idx = 0;
    hc_count(h, &h->stats.console_lines);
    if (h->cfg.console_line)
        h->cfg.console_line(h->cfg.console_opaque, vcpu, line, len);
}

static long write_console(struct hv_hypercalls *h, unsigned vcpu, uint32_t count, uint32_t buffer)
{
    uint32_t todo = count < HC_CONSOLE_MAX ? count : HC_CONSOLE_MAX;
    long rc = 0;

    if (count > todo)
        __atomic_fetch_add(&h->stats.console_cut, count - todo, __ATOMIC_RELAXED);
    pthread_mutex_lock(&h->console_lock);
    while (todo > 0) {
        char kbuf[KBUF], kout[KBUF];
        uint32_t kcount = todo < KBUF - 1 ? todo : KBUF - 1, used = 0;
        size_t nout = 0;
        char c = 0;

        if (hc_read(h, buffer, kbuf, kcount)) {
            rc = -EFAULT;
            break;
        }
        /* up to and including the first newline of the chunk */
        while (used < kcount) {
            c = kbuf[used++];
            if (c == '\n')
                break;
            if (isprint((unsigned char)c) || c == '\t')
                kout[nout++] = c;
        }
        if (c != '\n' && h->pbuf_idx + nout < HC_PBUF_SIZE - 1) {
            memcpy(h->pbuf + h->pbuf_idx, kout, nout);
            h->pbuf_idx += (unsigned)nout;
        } else {
            emit(h, vcpu, kout, nout);
        }
        buffer += used;
        todo -= used;
    }
    pthread_mutex_unlock(&h->console_lock);
    return rc;
}

long hc_console_io(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a)
{
    uint32_t cmd = a[0], count = a[1], buffer = a[2];

    if (cmd != CONSOLEIO_write) {
        hc_count(h, &h->stats.denied);
        return -EPERM;
    }
    return write_console(h, vcpu, count, buffer);
}
