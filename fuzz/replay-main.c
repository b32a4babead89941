/*
 * The fuzz targets without libFuzzer: runs LLVMFuzzerTestOneInput once on
 * each file named on the command line (a directory stands for the files in
 * it), so the seed corpora and every reproducer are replayed by the normal
 * test run with any compiler. Exit status 0 only if there was at least one
 * input and all of them ran.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not seeds: refuse them rather than guess. */
#define REPLAY_MAX_INPUT (1u << 20)

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;
    int rc = -1;

    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
        fprintf(stderr, "%s: cannot size: %s\n", path, strerror(errno));
        goto out;
    }
    if ((unsigned long)len > REPLAY_MAX_INPUT) {
        fprintf(stderr, "%s: %ld bytes, more than %u\n", path, len, REPLAY_MAX_INPUT);
        goto out;
    }
    /* One byte more, so that an empty input still has a valid pointer. */
    buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "%s: cannot read\n", path);
        goto out;
    }
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file in dir, in name order; returns the number run or -1. */
static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t nr = 0, cap = 0;
    int ran = 0;

    if (!d) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        char path[4096];
        struct stat st;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (nr == cap) {
            char **n = realloc(names, (cap ? cap * 2 : 64) * sizeof(*names));
            if (!n) {
                ran = -1;
                goto out;
            }
            names = n;
            cap = cap ? cap * 2 : 64;
        }
        names[nr] = strdup(path);
        if (!names[nr]) {
            ran = -1;
            goto out;
        }
        nr++;
    }
    qsort(names, nr, sizeof(*names), name_cmp);
    for (size_t i = 0; i < nr; i++) {
        if (run_file(names[i]) < 0) {
            ran = -1;
            goto out;
        }
        ran++;
    }
out:
    for (size_t i = 0; i < nr; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return ran;
}

int main(int argc, char **argv)
{
    int total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n;

        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) == 0 ? 1 : -1;
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "no inputs\n");
        return 1;
    }
    printf("%d inputs replayed\n", total);
    return 0;
}
