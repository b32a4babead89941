/*
 * Human-readable output: rows of cells printed as aligned columns. Cells
 * are copied with control bytes replaced by '?', since what ioreqctl prints
 * comes from xenstore and the daemon, and must not drive the terminal.
 */
#ifndef IOREQCTL_CTL_OUTPUT_H
#define IOREQCTL_CTL_OUTPUT_H

#include <stdio.h>

struct json_value;

struct ctl_rows {
    char **cells; /* nr rows of cols cells */
    unsigned cols;
    unsigned nr;
    unsigned cap;
    int err; /* -ENOMEM, sticky */
};

void ctl_rows_init(struct ctl_rows *t, unsigned cols);
/* Exactly t->cols strings follow; NULL prints as "-". */
void ctl_rows_add(struct ctl_rows *t, ...);
/*
 * Adds one "key value" row per scalar below v (two columns): keys are
 * joined with '.', array elements named by their index. `prefix` may be
 * NULL. Members whose name is in `skip` (NULL-terminated, top level only)
 * are left out.
 */
void ctl_rows_flatten(struct ctl_rows *t, const char *prefix, const struct json_value *v,
                      const char *const *skip);
/*
 * Prints every row after `indent`, cells separated by two spaces and
 * padded to the column's width (the last cell is not padded). 0 or -ENOMEM.
 */
int ctl_rows_print(struct ctl_rows *t, FILE *f, const char *indent);
void ctl_rows_free(struct ctl_rows *t);

#endif
