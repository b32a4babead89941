/*
 * mockxen --firmware: boot Xen's hvmloader and SeaBIOS on an emulated vCPU
 * once the device models are ready, and end with the guest.
 */
#ifndef MOCKXEN_FIRMWARE_H
#define MOCKXEN_FIRMWARE_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "mockhv.h"

/* Exit statuses of the firmware mode. */
enum firmware_status {
    FIRMWARE_OK = 0,       /* halted with IF clear, or SHUTDOWN_poweroff */
    FIRMWARE_FAILED = 1,   /* a crash, another shutdown reason, any error */
    FIRMWARE_TIMEOUT = 3,  /* --timeout ran out */
    FIRMWARE_STRANDED = 4, /* a vCPU waits on a server whose device model is gone */
};

struct firmware_opts {
    const char *hvmloader; /* NULL: the default */
    const char *bios;
    FILE *log;          /* the firmware's lines */
    unsigned timeout_s; /* 0: none */
    bool count_instructions;
};

struct firmware_dm {
    pid_t pid; /* -1 once reaped */
    int status;
};

/* Waits for the device models (their ioreq servers enabled and, with
 * xenstore, device-model/<domid>/state "running"), powers the vCPU on,
 * waits for the guest's end and says it on stderr. */
int firmware_run(struct mockhv *hv, const struct firmware_opts *o, struct firmware_dm *dms,
                 unsigned nr_dms, volatile sig_atomic_t *got_signal);

#endif
