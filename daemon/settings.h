/*
 * What ioreqd was asked to do: the merged result of the command line and the
 * configuration file. Both parsers fill one of these; "unset" fields let the
 * command line override the file field by field (settings_merge).
 *
 * Every string is owned by the struct and freed by settings_free().
 */
#ifndef IOREQD_SETTINGS_H
#define IOREQD_SETTINGS_H

#include <stdbool.h>

#include "compiler.h"

/* Exit codes of the ioreqd program, documented in ioreqd(8). */
enum ioreqd_exit {
    IOREQD_EXIT_OK = 0,
    IOREQD_EXIT_FAILURE = 1, /* start-up or run-time failure */
    IOREQD_EXIT_USAGE = 2,   /* bad command line, configuration file or device spec */
};

/* The longest --poll-us / poll-us (the ioreq server's IOREQ_POLL_US_MAX). */
#define SETTINGS_POLL_US_MAX 1000
/*
 * Whether QEMU serves the same guest (its keys, lines and ports are then
 * off limits): found out from xenstore at start-up, or said.
 */
enum ioreqd_beside_qemu {
    IOREQD_QEMU_DETECT = 0, /* beside QEMU when its device-model state key exists */
    IOREQD_QEMU_ALONE,
    IOREQD_QEMU_BESIDE,
};

/* First domid Xen reserves for itself (DOMID_FIRST_RESERVED). */
#define SETTINGS_DOMID_LIMIT 0x7ff0

struct settings_device {
    char *spec;   /* "type,key=value,..." as written */
    char *origin; /* where it came from, for error messages: "FILE:LINE" or "--device" */
};

struct ioreqd_settings {
    int domid; /* -1 until set */
    struct settings_device *devices;
    unsigned nr_devices;
    int foreground; /* -1 unset, 0, 1 */
    char *pidfile;
    int log_sink;  /* enum log_sink, -1 unset */
    int log_level; /* enum log_level, -1 unset */
    char *config_path;
    char *control_socket; /* path, "none", or NULL for the default */
    char *runas;          /* "user[:group]" to run as after set-up; NULL: stay root */
    char *chroot_dir;     /* directory to chroot into after set-up; NULL: none */
    int seccomp;          /* -1 unset (on), 0, 1 */
    int poll_us;          /* -1 unset (0: no polling), 0..SETTINGS_POLL_US_MAX */
    int beside_qemu;      /* -1 unset (detect), enum ioreqd_beside_qemu */
    int dirty_log;        /* -1 unset (off), 0, 1: report guest-RAM writes from the start */
};

void settings_init(struct ioreqd_settings *s);
void settings_free(struct ioreqd_settings *s);
/* 0 or -ENOMEM. */
int settings_add_device(struct ioreqd_settings *s, const char *spec, const char *origin) must_check;
/* 0 or -ENOMEM. Replaces any previous value. */
int settings_set_string(char **field, const char *value) must_check;
/*
 * Folds `over` into `base`: every field set in `over` wins; devices from
 * `over`, if it has any, replace those of `base`. `over` is emptied of what
 * was moved.
 */
void settings_merge(struct ioreqd_settings *base, struct ioreqd_settings *over);

/*
 * Value parsers shared by the command line and the configuration file.
 * Each returns 0 or -EINVAL.
 */
int settings_parse_domid(const char *text, int *domid) must_check;
int settings_parse_bool(const char *text, int *value) must_check;
int settings_parse_log_sink(const char *text, int *sink) must_check;
int settings_parse_log_level(const char *text, int *level) must_check;
/* Microseconds, 0..SETTINGS_POLL_US_MAX, decimal. */
int settings_parse_poll_us(const char *text, int *poll_us) must_check;
/* "yes", "no" or "auto" → enum ioreqd_beside_qemu. */
int settings_parse_beside_qemu(const char *text, int *value) must_check;

#endif
