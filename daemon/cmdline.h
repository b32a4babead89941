/*
 * The ioreqd command line. Parsing is separate from acting on it so that
 * unit tests can feed argument vectors and check the settings and the exact
 * error text.
 */
#ifndef IOREQD_CMDLINE_H
#define IOREQD_CMDLINE_H

#include <stddef.h>
#include <stdio.h>

#include "settings.h"

enum cmdline_action {
    CMDLINE_RUN,
    CMDLINE_HELP,
    CMDLINE_VERSION,
};

/*
 * Fills `s` (which the caller has settings_init()ed) from argv. Returns a
 * cmdline_action, or -EINVAL with a one-line explanation in errbuf, or
 * -ENOMEM. Reentrant with respect to getopt's state.
 */
int cmdline_parse(int argc, char *const argv[], struct ioreqd_settings *s, char *errbuf,
                  size_t errlen);

/* The option summary for --help. */
void cmdline_usage(FILE *out, const char *prog);

#endif
