/*
 * Port 0xe9, the debug console of xen/arch/x86/hvm/hvm.c (hvm_print_line):
 * single-byte writes of printable characters, tab and newline are collected
 * into lines; a line ends at '\n' or when it reaches 199 bytes
 * (DOMAIN_PBUF_SIZE - 1). Other bytes are dropped. Reads and wider accesses
 * are not Xen's: they go on to the device model.
 */
#include <ctype.h>
#include <string.h>

#include "chipset-internal.h"

#define DEBUG_PORT 0xe9

bool debug_pio(struct hv_chipset *cs, uint16_t port, unsigned size, bool write, uint32_t *val)
{
    struct cs_debug *d = &cs->debug;
    unsigned char c = (unsigned char)*val;

    if (port != DEBUG_PORT || size != 1 || !write)
        return false;
    if (!isprint(c) && c != '\n' && c != '\t') {
        cs->counters.debug_dropped++;
        return true;
    }
    if (c != '\n')
        d->buf[d->len++] = (char)c;
    if (d->len == CS_DEBUG_LINE_MAX - 1 || c == '\n') {
        /* One byte ends at most one line: chipset.c hands it out unlocked. */
        memcpy(cs->debug_out, d->buf, d->len);
        cs->debug_out_len = d->len;
        cs->debug_out_ready = true;
        d->len = 0;
    }
    return true;
}
