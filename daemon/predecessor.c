/* A crashed predecessor's ioreq server, and what lets a successor find ours (predecessor.h). */
#include "predecessor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

/* Process pid runs and is an ioreqd (not another program that got its pid). */
static bool ioreqd_runs(long pid)
{
    char path[64], comm[32] = "";
    FILE *f;

    if (pid <= 0 || pid == (long)getpid() || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
        return false;
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    f = fopen(path, "re");
    if (!f)
        return true; /* it runs; what it is we cannot tell: assume the worst */
    if (!fgets(comm, sizeof(comm), f))
        comm[0] = '\0';
    fclose(f);
    return strncmp(comm, "ioreqd", 6) == 0;
}

void predecessor_retire(struct dmxs *xs, unsigned domid, bool beside_qemu)
{
    const char *dm = dmxs_dm_dir(xs);
    char path[512], *id_text, *pid_text, *end;
    unsigned long id;
    long pid = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/ioreqd/server-id", dm);
    id_text = dmxs_read(xs, path);
    if (!id_text)
        return;
    snprintf(path, sizeof(path), "%s/ioreqd/pid", dm);
    pid_text = dmxs_read(xs, path);
    if (pid_text)
        pid = strtol(pid_text, NULL, 10);
    free(pid_text);
    errno = 0;
    id = strtoul(id_text, &end, 10);
    if (errno || end == id_text || *end || id > UINT16_MAX) {
        log_warn("%s/ioreqd/server-id is '%.16s', not a server id: ignored", dm, id_text);
    } else if (ioreqd_runs(pid)) {
        log_warn("ioreqd %ld, which created ioreq server %lu for domain %u, still runs: "
                 "leaving that server alone",
                 pid, id, domid);
        free(id_text);
        return;
    } else {
        rc = ioreq_server_retire((uint16_t)domid, (uint16_t)id);
        if (!rc)
            log_info("destroyed ioreq server %lu left by a previous ioreqd (pid %ld) for domain "
                     "%u: the guest's accesses reach the new server",
                     id, pid, domid);
        else if (rc == -ENOENT)
            log_debug("ioreq server %lu of a previous ioreqd no longer exists", id);
        else
            log_warn("cannot destroy ioreq server %lu left by a previous ioreqd: %s", id,
                     strerror(-rc));
    }
    free(id_text);
    /* What it published is stale: ours replaces it, and goes with us. Beside
     * QEMU its state key was under ioreqd/; the plain one is QEMU's. */
    snprintf(path, sizeof(path), "%s/ioreqd", dm);
    rc = dmxs_remove(xs, path);
    if (!rc && !beside_qemu) {
        snprintf(path, sizeof(path), "%s/state", dm);
        rc = dmxs_remove(xs, path);
    }
    if (rc)
        log_warn("cannot remove what a previous ioreqd left in %s: %s", dm, strerror(-rc));
}

int predecessor_record(struct dmxs *xs, uint16_t server_id)
{
    const char *dm = dmxs_dm_dir(xs);
    char path[512];
    int rc;

    snprintf(path, sizeof(path), "%s/ioreqd/pid", dm);
    rc = dmxs_writef(xs, path, "%ld", (long)getpid());
    if (rc)
        return rc;
    snprintf(path, sizeof(path), "%s/ioreqd/server-id", dm);
    return dmxs_writef(xs, path, "%u", (unsigned)server_id);
}
