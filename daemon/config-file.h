/*
 * The configuration file, ioreqd.conf(5): one "key = value" per line,
 * blank lines and lines starting with '#' ignored. Keys mirror the long
 * command-line options (domid, device, foreground, pidfile, log, log-level, control-socket).
 * Every error names the file and line.
 */
#ifndef IOREQD_CONFIG_FILE_H
#define IOREQD_CONFIG_FILE_H

#include <stddef.h>

#include "settings.h"

/* Longest line accepted, newline excluded. */
#define CONF_LINE_MAX 4096

/*
 * Parses `text` (NUL-terminated) as if read from a file called `name` into
 * `s`. 0, or -EINVAL with "NAME:LINE: explanation" in errbuf, or -ENOMEM.
 */
int conf_parse_text(const char *text, const char *name, struct ioreqd_settings *s, char *errbuf,
                    size_t errlen);

/* Reads and parses `path`; a file that cannot be read is -EINVAL too, explained in errbuf. */
int conf_parse_file(const char *path, struct ioreqd_settings *s, char *errbuf, size_t errlen);

#endif
