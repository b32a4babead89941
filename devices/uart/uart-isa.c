/*
 * uart: a 16550A on the ISA bus, COM1-COM4 (ports 0x3f8/0x2f8/0x3e8/0x2e8,
 * IRQs 4/3/4/3), its interrupt raised with the platform's ISA IRQ level, its
 * line connected to a character backend. The register core is uart-16550.c;
 * this file only wires it to ports, an IRQ, and a chardev.
 *
 * Spec: uart[,com=N][,port=P][,irq=I][,backend=pty|unix:PATH|file:PATH|stdio|null][,index=N]
 * A pty's path is published at /local/domain/<domid>/serial/<index>/tty
 * (index defaults to com-1), where `xl console -t serial` looks for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev.h"
#include "log.h"
#include "registry.h"
#include "uart-16550.h"

#define UART_ISA_PORTS 8

static const struct {
    uint16_t port;
    uint8_t irq;
} com_defaults[4] = {{0x3f8, 4}, {0x2f8, 3}, {0x3e8, 4}, {0x2e8, 3}};

struct uart_isa {
    struct uart_16550 core;
    struct irq_line line;
    struct chardev *cd;
    struct dm_platform platform;
    struct io_registry *io;
    bool mapped;
    uint16_t port;
    unsigned irq;
    unsigned com;
    unsigned index;
    uint64_t irqs_raised; /* low-to-high edges driven on the ISA IRQ */
    char name[16];
    char backend[160];
};

static void isa_set_level(void *opaque, bool level)
{
    struct uart_isa *ui = opaque;
    int rc;

    /* The core calls only on a change, so every high level is one raised interrupt. */
    if (level)
        ui->irqs_raised++;
    if (!ui->platform.ops || !ui->platform.ops->set_isa_irq_level)
        return;
    rc = ui->platform.ops->set_isa_irq_level(ui->platform.opaque, ui->irq, level);
    if (rc)
        log_warn("%s: IRQ %u level change failed: %s", ui->name, ui->irq, strerror(-rc));
}

static uint64_t isa_read(void *opaque, const struct io_access *a)
{
    struct uart_isa *ui = opaque;
    uint64_t v = 0;

    /* An 8-bit device: wider accesses are split into consecutive registers. */
    for (unsigned i = 0; i < a->size; i++)
        v |= (uint64_t)uart_read(&ui->core, (unsigned)a->offset + i) << (8 * i);
    return v;
}

static void isa_write(void *opaque, const struct io_access *a, uint64_t v)
{
    struct uart_isa *ui = opaque;

    for (unsigned i = 0; i < a->size; i++)
        uart_write(&ui->core, (unsigned)a->offset + i, (uint8_t)(v >> (8 * i)));
}

static const struct io_ops uart_isa_io_ops = {
    .read = isa_read,
    .write = isa_write,
};

static size_t host_tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct uart_isa *ui = opaque;
    return chardev_write(ui->cd, buf, len);
}

static void host_rx_ready(void *opaque)
{
    struct uart_isa *ui = opaque;
    chardev_accept_input(ui->cd);
}

static const struct uart_host_ops uart_isa_host_ops = {
    .tx = host_tx,
    .rx_ready = host_rx_ready,
};

static size_t cd_can_receive(void *opaque)
{
    struct uart_isa *ui = opaque;
    return uart_rx_room(&ui->core);
}

static void cd_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct uart_isa *ui = opaque;
    uart_receive(&ui->core, buf, len);
}

static void cd_writable(void *opaque)
{
    struct uart_isa *ui = opaque;
    uart_tx_kick(&ui->core);
}

static void uart_isa_destroy(void *opaque)
{
    struct uart_isa *ui = opaque;

    if (!ui)
        return;
    if (ui->mapped)
        io_unmap(ui->io, IO_SPACE_PIO, ui->port);
    /* Drop the line before going: a level left high would stick in the guest. */
    if (ui->core.irq_level)
        isa_set_level(ui, false);
    chardev_close(ui->cd);
    free(ui);
}

static int uart_isa_flush(void *opaque)
{
    struct uart_isa *ui = opaque;
    return chardev_flush(ui->cd);
}

/* What a spec asks for, defaults filled in. */
struct uart_isa_config {
    uint64_t com, port, irq, index;
    const char *backend;
};

/* The backend forms chardev_open() accepts (chardev.h), checked without opening one. */
static bool backend_ok(const char *b)
{
    return !*b || !strcmp(b, "pty") || !strcmp(b, "stdio") || !strcmp(b, "null") ||
           (!strncmp(b, "unix:", 5) && b[5]) || (!strncmp(b, "file:", 5) && b[5]);
}

static int uart_isa_parse(struct device_spec *spec, struct uart_isa_config *cfg, char *errbuf,
                          size_t errlen)
{
    int rc;

    rc = device_spec_get_uint(spec, "com", 1, 4, 1, &cfg->com, errbuf, errlen);
    if (rc)
        return rc;
    rc = device_spec_get_uint(spec, "port", 0, 0x10000 - UART_ISA_PORTS,
                              com_defaults[cfg->com - 1].port, &cfg->port, errbuf, errlen);
    if (!rc)
        rc = device_spec_get_uint(spec, "irq", 0, 15, com_defaults[cfg->com - 1].irq, &cfg->irq,
                                  errbuf, errlen);
    if (!rc)
        rc = device_spec_get_uint(spec, "index", 0, 255, cfg->com - 1, &cfg->index, errbuf, errlen);
    if (rc)
        return rc;
    cfg->backend = device_spec_get(spec, "backend");
    if (!cfg->backend)
        cfg->backend = "pty";
    if (!backend_ok(cfg->backend)) {
        snprintf(errbuf, errlen,
                 "uart: backend: unknown backend '%s' (pty, unix:PATH, file:PATH, stdio, null)",
                 cfg->backend);
        return -EINVAL;
    }
    return 0;
}

static int uart_isa_check(struct device_spec *spec, char *errbuf, size_t errlen)
{
    struct uart_isa_config cfg;

    return uart_isa_parse(spec, &cfg, errbuf, errlen);
}

static int uart_isa_create(const struct device_env *env, struct device_spec *spec, void **out,
                           char *errbuf, size_t errlen)
{
    const struct chardev_client client = {
        .can_receive = cd_can_receive,
        .receive = cd_receive,
        .writable = cd_writable,
    };
    struct chardev_client c = client;
    struct uart_isa_config cfg;
    struct uart_isa *ui;
    int rc;

    rc = uart_isa_parse(spec, &cfg, errbuf, errlen);
    if (rc)
        return rc;

    ui = calloc(1, sizeof(*ui));
    if (!ui)
        return -ENOMEM;
    ui->platform = env->platform;
    ui->io = env->io;
    ui->port = (uint16_t)cfg.port;
    ui->irq = (unsigned)cfg.irq;
    ui->com = (unsigned)cfg.com;
    ui->index = (unsigned)cfg.index;
    snprintf(ui->name, sizeof(ui->name), "uart%u", ui->index);
    ui->line = (struct irq_line){.set_level = isa_set_level, .opaque = ui};
    uart_init(&ui->core, &ui->line, &uart_isa_host_ops, ui);

    c.opaque = ui;
    rc = chardev_open(&ui->cd, cfg.backend, env->base, &c, errbuf, errlen);
    if (rc) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s", errbuf);
        snprintf(errbuf, errlen, "uart: backend: %s", msg);
        goto out;
    }

    struct io_range r = {
        .space = IO_SPACE_PIO,
        .base = ui->port,
        .len = UART_ISA_PORTS,
        .ops = &uart_isa_io_ops,
        .opaque = ui,
        .name = ui->name,
    };
    rc = io_map(env->io, &r);
    if (rc) {
        snprintf(errbuf, errlen, "uart: ports %#x-%#x %s", ui->port, ui->port + 7,
                 rc == -EEXIST ? "are already taken" : "cannot be registered");
        goto out;
    }
    ui->mapped = true;

    if (chardev_pty_path(ui->cd)) {
        char key[96];
        snprintf(ui->backend, sizeof(ui->backend), "pty:%s", chardev_pty_path(ui->cd));
        snprintf(key, sizeof(key), "/local/domain/%u/serial/%u/tty", env->domid, ui->index);
        if (env->publish) {
            int prc = env->publish(env->publish_opaque, key, chardev_pty_path(ui->cd));
            if (prc)
                log_warn("%s: cannot publish %s: %s", ui->name, key, strerror(-prc));
        }
        log_info("%s: serial console on %s", ui->name, chardev_pty_path(ui->cd));
    } else {
        snprintf(ui->backend, sizeof(ui->backend), "%s", cfg.backend);
    }
    *out = ui;
    return 0;
out:
    uart_isa_destroy(ui);
    return rc;
}

static void uart_isa_describe(void *opaque, char *buf, size_t len)
{
    struct uart_isa *ui = opaque;
    struct chardev_stats cs;

    chardev_get_stats(ui->cd, &cs);
    snprintf(buf, len,
             "port=%#x irq=%u backend=%s tx=%" PRIu64 " rx=%" PRIu64 " tx-dropped=%" PRIu64
             " out-dropped=%" PRIu64,
             ui->port, ui->irq, ui->backend, ui->core.stats.tx_bytes, ui->core.stats.rx_bytes,
             ui->core.stats.tx_dropped, cs.out_dropped);
}

static void uart_isa_identity(void *opaque, char *buf, size_t len)
{
    struct uart_isa *ui = opaque;

    snprintf(buf, len, "port=%#x irq=%u backend=%s", ui->port, ui->irq, ui->backend);
}

static void uart_isa_counters(void *opaque, const struct device_counter_sink *sink)
{
    struct uart_isa *ui = opaque;
    struct chardev_stats cs;

    chardev_get_stats(ui->cd, &cs);
    sink->counter(sink->opaque, "bytes_out", ui->core.stats.tx_bytes);
    sink->counter(sink->opaque, "bytes_in", ui->core.stats.rx_bytes);
    /* The guest wrote into a full transmit FIFO. */
    sink->counter(sink->opaque, "tx_dropped", ui->core.stats.tx_dropped);
    /* Loopback into a full receive FIFO. */
    sink->counter(sink->opaque, "rx_overruns", ui->core.stats.rx_overruns);
    /* Output the backend discarded because nobody was reading it. */
    sink->counter(sink->opaque, "backend_dropped", cs.out_dropped);
    sink->counter(sink->opaque, "interrupts", ui->irqs_raised);
}

static uint16_t uart_isa_irqs(void *dev)
{
    const struct uart_isa *ui = dev;

    return (uint16_t)(1u << ui->irq);
}

const struct device_type uart_device_type = {
    .name = "uart",
    .summary =
        "16550A serial port: com=1-4, port=, irq=, backend=pty|unix:PATH|file:PATH|stdio|null",
    .create = uart_isa_create,
    .check = uart_isa_check,
    .flush = uart_isa_flush,
    .destroy = uart_isa_destroy,
    .describe = uart_isa_describe,
    .identity = uart_isa_identity,
    .counters = uart_isa_counters,
    .isa_irqs = uart_isa_irqs,
};
