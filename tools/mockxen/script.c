/*
 * Interpreter of mockxen guest scripts: each line is parsed into words and
 * dispatched through a table of commands; every access goes through the
 * mockhv guest API with the script's timeout, so a silent device model
 * fails the script instead of hanging it.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "script.h"

#define MAX_WORDS 8

struct script {
    struct mockhv *hv;
    FILE *out;
    const char *name;
    unsigned line;
    unsigned vcpu;
    int timeout_ms;
    uint64_t last; /* last value read, for `expect` */
    bool have_last;
    uint64_t irq_seq;                       /* last interrupt record shown */
    int quit_status;                        /* -1: running */
    const volatile sig_atomic_t *peer_gone; /* set when the device model exited */
};

struct command {
    const char *name;
    int min_args, max_args;
    enum script_status (*run)(struct script *s, int argc, char **argv);
    unsigned size; /* access width for the in/out/read/write families */
    const char *usage;
};

static enum script_status fail(struct script *s, enum script_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum script_status fail(struct script *s, enum script_status st, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%u: ", s->name, s->line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return st;
}

static bool num(const char *w, uint64_t *v)
{
    char *end;

    errno = 0;
    *v = strtoull(w, &end, 0);
    return !errno && end != w && !*end && *w != '-';
}

static enum script_status access_rc(struct script *s, int rc, const char *what)
{
    if (!rc)
        return SCRIPT_OK;
    return fail(s, SCRIPT_FAILED, "%s: %s", what, strerror(-rc));
}

static const struct command *find(const char *name);

/* Arguments as numbers; a syntax error names the bad one. */
static bool nums(struct script *s, int argc, char **argv, uint64_t *v)
{
    for (int i = 1; i < argc; i++) {
        if (!num(argv[i], &v[i - 1])) {
            fail(s, SCRIPT_SYNTAX, "%s: not a number: %s", argv[0], argv[i]);
            return false;
        }
    }
    return true;
}

static void show(struct script *s, const char *what, uint64_t addr, uint64_t val)
{
    fprintf(s->out, "%s 0x%" PRIx64 " -> 0x%" PRIx64 "\n", what, addr, val);
    s->last = val;
    s->have_last = true;
}

static enum script_status cmd_in(struct script *s, int argc, char **argv)
{
    unsigned size = find(argv[0])->size;
    uint64_t a[1];
    uint32_t v = 0;

    if (!nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    if (a[0] > 0xffff)
        return fail(s, SCRIPT_SYNTAX, "%s: port out of range", argv[0]);
    if (access_rc(s, mockhv_pio_in(s->hv, s->vcpu, (uint16_t)a[0], size, &v, s->timeout_ms),
                  argv[0]))
        return SCRIPT_FAILED;
    show(s, argv[0], a[0], v);
    return SCRIPT_OK;
}

static enum script_status cmd_out(struct script *s, int argc, char **argv)
{
    unsigned size = find(argv[0])->size;
    uint64_t a[2];

    if (!nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    if (a[0] > 0xffff || a[1] > 0xffffffffull)
        return fail(s, SCRIPT_SYNTAX, "%s: value out of range", argv[0]);
    return access_rc(
        s, mockhv_pio_out(s->hv, s->vcpu, (uint16_t)a[0], size, (uint32_t)a[1], s->timeout_ms),
        argv[0]);
}

static enum script_status cmd_read(struct script *s, int argc, char **argv)
{
    uint64_t a[1], v = 0;

    if (!nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    if (access_rc(s, mockhv_mmio_read(s->hv, s->vcpu, a[0], find(argv[0])->size, &v, s->timeout_ms),
                  argv[0]))
        return SCRIPT_FAILED;
    show(s, argv[0], a[0], v);
    return SCRIPT_OK;
}

static enum script_status cmd_write(struct script *s, int argc, char **argv)
{
    uint64_t a[2];

    if (!nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    return access_rc(
        s, mockhv_mmio_write(s->hv, s->vcpu, a[0], find(argv[0])->size, a[1], s->timeout_ms),
        argv[0]);
}

static bool parse_bdf(const char *w, uint16_t *bdf)
{
    unsigned bus, dev, fn;
    char tail;

    if (sscanf(w, "%x:%x.%x%c", &bus, &dev, &fn, &tail) != 3 || bus > 0xff || dev > 0x1f || fn > 7)
        return false;
    *bdf = (uint16_t)(bus << 8 | dev << 3 | fn);
    return true;
}

static enum script_status cmd_cfg(struct script *s, int argc, char **argv)
{
    bool write = !strcmp(argv[0], "cfg-write");
    uint64_t a[4];
    uint16_t bdf;
    uint32_t v;
    int rc;

    if (!parse_bdf(argv[1], &bdf))
        return fail(s, SCRIPT_SYNTAX, "%s: bad BDF %s (want BB:DD.F)", argv[0], argv[1]);
    for (int i = 2; i < argc; i++)
        if (!num(argv[i], &a[i - 2]))
            return fail(s, SCRIPT_SYNTAX, "%s: not a number: %s", argv[0], argv[i]);
    if (a[0] > 0xff || (a[1] != 1 && a[1] != 2 && a[1] != 4) || (write && a[2] > 0xffffffffull))
        return fail(s, SCRIPT_SYNTAX, "%s: bad register, size or value", argv[0]);
    if (write)
        return access_rc(s,
                         mockhv_cfg_write(s->hv, s->vcpu, bdf, (unsigned)a[0], (unsigned)a[1],
                                          (uint32_t)a[2], s->timeout_ms),
                         argv[0]);
    rc = mockhv_cfg_read(s->hv, s->vcpu, bdf, (unsigned)a[0], (unsigned)a[1], &v, s->timeout_ms);
    if (access_rc(s, rc, argv[0]))
        return SCRIPT_FAILED;
    fprintf(s->out, "cfg-read %s 0x%02" PRIx64 " -> 0x%x\n", argv[1], a[0], v);
    s->last = v;
    s->have_last = true;
    return SCRIPT_OK;
}

static enum script_status cmd_buf_write(struct script *s, int argc, char **argv)
{
    uint64_t a[3];

    if (!nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    return access_rc(
        s, mockhv_buf_write(s->hv, s->vcpu, true, a[0], (unsigned)a[1], a[2], s->timeout_ms),
        argv[0]);
}

/* rep pio|mmio in|out ADDR SIZE COUNT GPA */
static enum script_status cmd_rep(struct script *s, int argc, char **argv)
{
    struct mockhv_rep r = {0};
    uint64_t a[4];

    if (strcmp(argv[1], "pio") && strcmp(argv[1], "mmio"))
        return fail(s, SCRIPT_SYNTAX, "rep: pio or mmio, not %s", argv[1]);
    if (strcmp(argv[2], "in") && strcmp(argv[2], "out"))
        return fail(s, SCRIPT_SYNTAX, "rep: in or out, not %s", argv[2]);
    for (int i = 3; i < 7; i++)
        if (!num(argv[i], &a[i - 3]))
            return fail(s, SCRIPT_SYNTAX, "rep: not a number: %s", argv[i]);
    if (a[2] > UINT32_MAX)
        return fail(s, SCRIPT_SYNTAX, "rep: count too large");
    r.mmio = argv[1][0] == 'm';
    r.dir_read = !strcmp(argv[2], "in");
    r.addr = a[0];
    r.size = (unsigned)a[1];
    r.count = (uint32_t)a[2];
    r.gpa = a[3];
    return access_rc(s, mockhv_rep(s->hv, s->vcpu, &r, s->timeout_ms), "rep");
}

static enum script_status cmd_vcpu(struct script *s, int argc, char **argv)
{
    uint64_t a[1];

    if (!nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    if (a[0] >= mockhv_nr_vcpus(s->hv))
        return fail(s, SCRIPT_SYNTAX, "vcpu: the domain has %u vCPUs", mockhv_nr_vcpus(s->hv));
    s->vcpu = (unsigned)a[0];
    return SCRIPT_OK;
}

static enum script_status cmd_timeout(struct script *s, int argc, char **argv)
{
    uint64_t a[1];

    if (!nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    if (a[0] == 0 || a[0] > 3600000)
        return fail(s, SCRIPT_SYNTAX, "timeout-ms: 1 to 3600000");
    s->timeout_ms = (int)a[0];
    return SCRIPT_OK;
}

static enum script_status cmd_expect(struct script *s, int argc, char **argv)
{
    uint64_t a[1];

    if (!nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    if (!s->have_last)
        return fail(s, SCRIPT_SYNTAX, "expect: nothing was read before");
    if (s->last != a[0])
        return fail(s, SCRIPT_FAILED, "expected 0x%" PRIx64 ", read 0x%" PRIx64, a[0], s->last);
    return SCRIPT_OK;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static enum script_status cmd_sleep(struct script *s, int argc, char **argv)
{
    uint64_t a[1];

    if (!nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    if (a[0] > 3600000)
        return fail(s, SCRIPT_SYNTAX, "sleep-ms: at most an hour");
    sleep_ms((unsigned)a[0]);
    return SCRIPT_OK;
}

static void show_irq(struct script *s, const struct mockhv_irq_record *r)
{
    switch (r->kind) {
    case MOCKHV_IRQ_ISA:
        fprintf(s->out, "irq isa %u level %d\n", r->irq, r->level);
        break;
    case MOCKHV_IRQ_INTX:
        fprintf(s->out, "irq intx %02x:%02x.%x INT%c level %d\n", (r->sbdf >> 8) & 0xff,
                (r->sbdf >> 3) & 0x1f, r->sbdf & 7, 'A' + r->intx, r->level);
        break;
    case MOCKHV_IRQ_MSI:
        fprintf(s->out, "irq msi addr 0x%" PRIx64 " data 0x%x\n", r->msi_addr, r->msi_data);
        break;
    case MOCKHV_IRQ_LINK_ROUTE:
        fprintf(s->out, "irq link %u -> isa %u\n", r->intx, r->irq);
        break;
    }
}

static enum script_status cmd_wait_irq(struct script *s, int argc, char **argv)
{
    struct mockhv_irq_record r;
    uint64_t a[1] = {(uint64_t)s->timeout_ms};
    int rc;

    if (argc > 1 && !nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    rc = mockhv_irq_wait(s->hv, s->irq_seq, &r, (int)a[0]);
    if (access_rc(s, rc, "wait-irq"))
        return SCRIPT_FAILED;
    s->irq_seq = r.seq;
    show_irq(s, &r);
    return SCRIPT_OK;
}

static enum script_status cmd_irqs(struct script *s, int argc, char **argv)
{
    uint64_t last = mockhv_irq_last_seq(s->hv);
    struct mockhv_irq_record r;

    for (uint64_t seq = s->irq_seq + 1; seq <= last; seq++)
        if (!mockhv_irq_get(s->hv, seq, &r))
            show_irq(s, &r);
    s->irq_seq = last;
    return SCRIPT_OK;
}

static enum script_status cmd_lspci(struct script *s, int argc, char **argv)
{
    struct mockhv_pci_func f[64];
    int n = mockhv_firmware_pci_init(s->hv, s->vcpu, f, 64, s->timeout_ms);

    if (n < 0)
        return access_rc(s, n, "lspci");
    for (int i = 0; i < n && i < 64; i++) {
        fprintf(s->out, "%02x:%02x.%x %04x: %04x:%04x rev %02x", f[i].bdf >> 8,
                (f[i].bdf >> 3) & 0x1f, f[i].bdf & 7, f[i].class_rev >> 16, f[i].vendor,
                f[i].device, f[i].class_rev & 0xff);
        if (f[i].irq_pin)
            fprintf(s->out, " INT%c", 'A' + f[i].irq_pin - 1);
        fputc('\n', s->out);
        for (unsigned b = 0; b < f[i].nr_bars; b++) {
            const struct mockhv_pci_bar *bar = &f[i].bars[b];
            fprintf(s->out, "\tBAR%u %s%s%s at 0x%" PRIx64 " size 0x%" PRIx64 "\n", bar->index,
                    bar->io ? "I/O" : "memory", bar->mem64 ? " 64-bit" : "",
                    bar->prefetch ? " prefetchable" : "", bar->base, bar->size);
        }
    }
    return SCRIPT_OK;
}

static enum script_status cmd_servers(struct script *s, int argc, char **argv)
{
    static const char *const type[] = {"pio", "mmio", "pci"};
    uint16_t ids[8];
    int n = mockhv_servers(s->hv, ids, 8);

    for (int i = 0; i < n && i < 8; i++) {
        struct mockhv_server_info info;
        struct mockhv_range r[64];
        int nr;

        if (mockhv_server_info(s->hv, ids[i], &info))
            continue;
        fprintf(s->out,
                "server %u %s vcpu-ports-bound %u/%u buffered-port %s requests-sent %" PRIu64
                " buffered-slots %" PRIu64 "\n",
                info.id, info.enabled ? "enabled" : "disabled", info.nr_vcpu_ports_bound,
                info.nr_vcpus, info.bufioreq_port_bound ? "bound" : "unbound", info.requests_sent,
                info.buffered_sent);
        nr = mockhv_server_ranges(s->hv, ids[i], r, 64);
        for (int j = 0; j < nr && j < 64; j++)
            fprintf(s->out, "\t%s 0x%" PRIx64 "-0x%" PRIx64 "\n", type[r[j].type], r[j].start,
                    r[j].end);
    }
    return SCRIPT_OK;
}

static bool gone(const struct script *s)
{
    return s->peer_gone && *s->peer_gone;
}

static enum script_status cmd_wait_owner(struct script *s, int argc, char **argv)
{
    uint64_t a[2] = {0, (uint64_t)s->timeout_ms};
    enum mockhv_range_type type;
    uint16_t bdf;

    if (!strcmp(argv[1], "pio"))
        type = MOCKHV_RANGE_PIO;
    else if (!strcmp(argv[1], "mmio"))
        type = MOCKHV_RANGE_MMIO;
    else if (!strcmp(argv[1], "pci"))
        type = MOCKHV_RANGE_PCI;
    else
        return fail(s, SCRIPT_SYNTAX, "wait-owner: pio, mmio or pci, not %s", argv[1]);
    if (type == MOCKHV_RANGE_PCI) {
        if (!parse_bdf(argv[2], &bdf))
            return fail(s, SCRIPT_SYNTAX, "wait-owner: bad BDF %s", argv[2]);
        a[0] = bdf;
    } else if (!num(argv[2], &a[0])) {
        return fail(s, SCRIPT_SYNTAX, "wait-owner: not a number: %s", argv[2]);
    }
    if (argc > 3 && !num(argv[3], &a[1]))
        return fail(s, SCRIPT_SYNTAX, "wait-owner: not a number: %s", argv[3]);
    for (uint64_t waited = 0; waited <= a[1]; waited += 10) {
        if (mockhv_owner(s->hv, type, a[0], 1) >= 0)
            return SCRIPT_OK;
        if (gone(s))
            return fail(s, SCRIPT_FAILED, "wait-owner: the device model exited");
        sleep_ms(10);
    }
    return fail(s, SCRIPT_FAILED, "wait-owner: nobody claimed %s %s", argv[1], argv[2]);
}

static enum script_status cmd_wait_xs(struct script *s, int argc, char **argv)
{
    uint64_t limit = (uint64_t)s->timeout_ms;

    if (argc > 3 && !num(argv[3], &limit))
        return fail(s, SCRIPT_SYNTAX, "wait-xs: not a number: %s", argv[3]);
    for (uint64_t waited = 0; waited <= limit; waited += 10) {
        char *v = NULL;
        int rc = mockhv_xenstore_read(s->hv, argv[1], &v);
        bool match = !rc && !strcmp(v, argv[2]);

        free(v);
        if (rc == -ENODEV)
            return fail(s, SCRIPT_FAILED, "wait-xs: no xenstore");
        if (match)
            return SCRIPT_OK;
        if (gone(s))
            return fail(s, SCRIPT_FAILED, "wait-xs: the device model exited");
        sleep_ms(10);
    }
    return fail(s, SCRIPT_FAILED, "wait-xs: %s never became %s", argv[1], argv[2]);
}

static enum script_status cmd_ram_write(struct script *s, int argc, char **argv)
{
    uint64_t gpa;

    if (!num(argv[1], &gpa))
        return fail(s, SCRIPT_SYNTAX, "ram-write: not a number: %s", argv[1]);
    return access_rc(s, mockhv_ram_write(s->hv, gpa, argv[2], strlen(argv[2])), "ram-write");
}

static enum script_status cmd_ram_read(struct script *s, int argc, char **argv)
{
    uint64_t a[2];
    uint8_t buf[256];

    if (!nums(s, argc, argv, a))
        return SCRIPT_SYNTAX;
    if (a[1] == 0 || a[1] > sizeof(buf))
        return fail(s, SCRIPT_SYNTAX, "ram-read: 1 to %zu bytes", sizeof(buf));
    if (access_rc(s, mockhv_ram_read(s->hv, a[0], buf, a[1]), "ram-read"))
        return SCRIPT_FAILED;
    fprintf(s->out, "ram 0x%" PRIx64 ":", a[0]);
    for (uint64_t i = 0; i < a[1]; i++)
        fprintf(s->out, " %02x", buf[i]);
    fputc('\n', s->out);
    return SCRIPT_OK;
}

static enum script_status cmd_invalidate(struct script *s, int argc, char **argv)
{
    return access_rc(s, mockhv_invalidate(s->hv, s->vcpu, s->timeout_ms), "invalidate");
}

static enum script_status cmd_destroy_domain(struct script *s, int argc, char **argv)
{
    return access_rc(s, mockhv_domain_destroy(s->hv), "destroy-domain");
}

static enum script_status cmd_echo(struct script *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        fprintf(s->out, "%s%s", i > 1 ? " " : "", argv[i]);
    fputc('\n', s->out);
    return SCRIPT_OK;
}

static enum script_status cmd_quit(struct script *s, int argc, char **argv)
{
    uint64_t a[1] = {0};

    if (argc > 1 && (!nums(s, argc, argv, a) || a[0] > 255))
        return fail(s, SCRIPT_SYNTAX, "quit: status 0-255");
    s->quit_status = (int)a[0];
    return SCRIPT_OK;
}

static const struct command commands[] = {
    {.name = "inb", .min_args = 1, .max_args = 1, .run = cmd_in, .size = 1, .usage = "PORT"},
    {.name = "inw", .min_args = 1, .max_args = 1, .run = cmd_in, .size = 2, .usage = "PORT"},
    {.name = "inl", .min_args = 1, .max_args = 1, .run = cmd_in, .size = 4, .usage = "PORT"},
    {.name = "outb", .min_args = 2, .max_args = 2, .run = cmd_out, .size = 1, .usage = "PORT VAL"},
    {.name = "outw", .min_args = 2, .max_args = 2, .run = cmd_out, .size = 2, .usage = "PORT VAL"},
    {.name = "outl", .min_args = 2, .max_args = 2, .run = cmd_out, .size = 4, .usage = "PORT VAL"},
    {.name = "readb", .min_args = 1, .max_args = 1, .run = cmd_read, .size = 1, .usage = "ADDR"},
    {.name = "readw", .min_args = 1, .max_args = 1, .run = cmd_read, .size = 2, .usage = "ADDR"},
    {.name = "readl", .min_args = 1, .max_args = 1, .run = cmd_read, .size = 4, .usage = "ADDR"},
    {.name = "readq", .min_args = 1, .max_args = 1, .run = cmd_read, .size = 8, .usage = "ADDR"},
    {.name = "writeb",
     .min_args = 2,
     .max_args = 2,
     .run = cmd_write,
     .size = 1,
     .usage = "ADDR VAL"},
    {.name = "writew",
     .min_args = 2,
     .max_args = 2,
     .run = cmd_write,
     .size = 2,
     .usage = "ADDR VAL"},
    {.name = "writel",
     .min_args = 2,
     .max_args = 2,
     .run = cmd_write,
     .size = 4,
     .usage = "ADDR VAL"},
    {.name = "writeq",
     .min_args = 2,
     .max_args = 2,
     .run = cmd_write,
     .size = 8,
     .usage = "ADDR VAL"},
    {.name = "cfg-read", .min_args = 3, .max_args = 3, .run = cmd_cfg, .usage = "BB:DD.F REG SIZE"},
    {.name = "cfg-write",
     .min_args = 4,
     .max_args = 4,
     .run = cmd_cfg,
     .usage = "BB:DD.F REG SIZE VAL"},
    {.name = "buf-write",
     .min_args = 3,
     .max_args = 3,
     .run = cmd_buf_write,
     .usage = "ADDR SIZE VAL"},
    {.name = "rep",
     .min_args = 6,
     .max_args = 6,
     .run = cmd_rep,
     .usage = "pio|mmio in|out ADDR SIZE COUNT GPA"},
    {.name = "invalidate", .min_args = 0, .max_args = 0, .run = cmd_invalidate, .usage = ""},
    {.name = "ram-write", .min_args = 2, .max_args = 2, .run = cmd_ram_write, .usage = "GPA TEXT"},
    {.name = "ram-read", .min_args = 2, .max_args = 2, .run = cmd_ram_read, .usage = "GPA LEN"},
    {.name = "expect", .min_args = 1, .max_args = 1, .run = cmd_expect, .usage = "VALUE"},
    {.name = "vcpu", .min_args = 1, .max_args = 1, .run = cmd_vcpu, .usage = "N"},
    {.name = "timeout-ms", .min_args = 1, .max_args = 1, .run = cmd_timeout, .usage = "MS"},
    {.name = "sleep-ms", .min_args = 1, .max_args = 1, .run = cmd_sleep, .usage = "MS"},
    {.name = "wait-irq", .min_args = 0, .max_args = 1, .run = cmd_wait_irq, .usage = "[MS]"},
    {.name = "irqs", .min_args = 0, .max_args = 0, .run = cmd_irqs, .usage = ""},
    {.name = "lspci", .min_args = 0, .max_args = 0, .run = cmd_lspci, .usage = ""},
    {.name = "servers", .min_args = 0, .max_args = 0, .run = cmd_servers, .usage = ""},
    {.name = "wait-owner",
     .min_args = 2,
     .max_args = 3,
     .run = cmd_wait_owner,
     .usage = "pio|mmio|pci ADDR [MS]"},
    {.name = "wait-xs",
     .min_args = 2,
     .max_args = 3,
     .run = cmd_wait_xs,
     .usage = "PATH VALUE [MS]"},
    {.name = "destroy-domain",
     .min_args = 0,
     .max_args = 0,
     .run = cmd_destroy_domain,
     .usage = ""},
    {.name = "echo", .min_args = 0, .max_args = MAX_WORDS - 1, .run = cmd_echo, .usage = "TEXT"},
    {.name = "quit", .min_args = 0, .max_args = 1, .run = cmd_quit, .usage = "[STATUS]"},
};

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

/* Splits on blanks; a word may be "quoted" to hold blanks. */
static int split(char *line, char **argv, int max)
{
    int argc = 0;

    for (char *p = line; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            break;
        if (argc == max)
            return -1;
        if (*p == '"') {
            argv[argc++] = ++p;
            while (*p && *p != '"')
                p++;
            if (!*p)
                return -1;
        } else {
            argv[argc++] = p;
            while (*p && *p != ' ' && *p != '\t')
                p++;
        }
        if (*p)
            *p++ = '\0';
    }
    return argc;
}

int script_run(struct mockhv *hv, FILE *in, const char *name, FILE *out,
               const volatile sig_atomic_t *peer_gone)
{
    struct script s = {.hv = hv,
                       .out = out,
                       .name = name,
                       .timeout_ms = 10000,
                       .quit_status = -1,
                       .peer_gone = peer_gone};
    char buf[1024];

    while (s.quit_status < 0 && fgets(buf, sizeof(buf), in)) {
        char *argv[MAX_WORDS];
        const struct command *c;
        enum script_status st;
        int argc;

        s.line++;
        if (!strchr(buf, '\n') && !feof(in))
            return fail(&s, SCRIPT_SYNTAX, "line longer than %zu bytes", sizeof(buf) - 2);
        buf[strcspn(buf, "\r\n")] = '\0';
        argc = split(buf, argv, MAX_WORDS);
        if (argc < 0)
            return fail(&s, SCRIPT_SYNTAX, "too many words or an unclosed quote");
        if (argc == 0)
            continue;
        c = find(argv[0]);
        if (!c)
            return fail(&s, SCRIPT_SYNTAX, "unknown command %s", argv[0]);
        if (argc - 1 < c->min_args || argc - 1 > c->max_args)
            return fail(&s, SCRIPT_SYNTAX, "usage: %s %s", c->name, c->usage);
        st = c->run(&s, argc, argv);
        fflush(out);
        if (st != SCRIPT_OK)
            return st;
    }
    return s.quit_status > 0 ? s.quit_status : SCRIPT_OK;
}
