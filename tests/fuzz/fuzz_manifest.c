/* fuzz_manifest.c — the whole manifest path: text -> inih -> key table ->
 * validation -> the printers of `keel check` (summary and --plan), with
 * MANIFEST_NO_FS_CHECKS so that nothing depends on the host's files.
 *
 * Invariants beyond "no crash, no leak":
 *  - success and failure are exclusive: 0 with a manifest and no diagnostics,
 *    or a negative errno with no manifest and at least one diagnostic;
 *  - every diagnostic is one line "fuzz.ini:LINE: message" (or "fuzz.ini:
 *    message") with 1 <= LINE <= the number of lines of the input;
 *  - an accepted manifest is complete: every container has a valid name,
 *    layers and a command, every dependency points at another container, and
 *    start_order is a permutation in which each container comes after what
 *    it depends on; an accepted cpuset names CPUs 0..4095 only.
 */
#include "fuzz.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>

#include "keel/manifest.h"
#include "keel/plan.h"

#define NAME "fuzz.ini"

static size_t count_lines(const uint8_t *data, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n + (size && data[size - 1] != '\n');
}

static void check_diag(const struct diag *d, size_t lines)
{
    const size_t pl = strlen(NAME ":");
    for (size_t i = 0; i < d->count; i++) {
        const char *s = d->msgs[i];
        FUZZ_ASSERT(s != NULL);
        FUZZ_ASSERT(strncmp(s, NAME ":", pl) == 0);
        FUZZ_ASSERT(strchr(s, '\n') == NULL);
        const char *p = s + pl;
        if (isdigit((unsigned char)*p)) {
            char *end;
            unsigned long line = strtoul(p, &end, 10);
            FUZZ_ASSERT(*end == ':');
            FUZZ_ASSERT(line >= 1 && line <= lines);
        } else {
            FUZZ_ASSERT(*p == ' ');
        }
        FUZZ_ASSERT(strlen(s) > pl + 1);
    }
    FUZZ_ASSERT(d->msgs == NULL ? d->count == 0 : d->msgs[d->count] == NULL);
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KEEL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return false;
    return true;
}

static void check_manifest(const struct manifest *m)
{
    size_t n = m->n_containers;
    FUZZ_ASSERT(m->system.log_dir && m->system.log_dir[0] == '/');
    FUZZ_ASSERT(n == 0 || m->start_order != NULL);
    bool *seen = calloc(n + 1, 1);
    size_t *pos = calloc(n + 1, sizeof *pos);
    FUZZ_ASSERT(seen && pos);
    for (size_t k = 0; k < n; k++) {
        int i = m->start_order[k];
        FUZZ_ASSERT(i >= 0 && (size_t)i < n && !seen[i]);
        seen[i] = true;
        pos[i] = k;
    }
    int mains = 0;
    for (size_t i = 0; i < n; i++) {
        const struct container_spec *c = &m->containers[i];
        FUZZ_ASSERT(c->name && valid_name(c->name));
        FUZZ_ASSERT(manifest_find_container(m, c->name) == (int)i);
        FUZZ_ASSERT(c->layers && c->layers[0]);
        FUZZ_ASSERT(c->argv && c->argv[0]);
        FUZZ_ASSERT(c->line >= 1);
        mains += c->main;
        for (size_t k = 0; k < c->n_deps; k++) {
            int t = c->deps[k].index;
            FUZZ_ASSERT(t >= 0 && (size_t)t < n && t != (int)i);
            FUZZ_ASSERT(strcmp(c->deps[k].name, m->containers[t].name) == 0);
            FUZZ_ASSERT(pos[t] < pos[i]);
        }
        for (size_t b = 0; b < c->n_mounts; b++)
            FUZZ_ASSERT(c->mounts[b].source && c->mounts[b].target && c->mounts[b].target[0] == '/');
        FUZZ_ASSERT(c->restart_delay_ms <= c->restart_delay_max_ms);
        FUZZ_ASSERT((c->caps_ambient & ~c->caps) == 0);
        if (c->cpuset) {
            /* Every CPU of an accepted list is in 0..4095. */
            for (const char *p = c->cpuset; *p;) {
                if (!isdigit((unsigned char)*p)) {
                    p++;
                    continue;
                }
                char *end;
                unsigned long cpu = strtoul(p, &end, 10);
                FUZZ_ASSERT(cpu <= 4095);
                p = end;
            }
        }
        if (c->net == NET_CONTAINER)
            FUZZ_ASSERT(c->net_peer && manifest_find_container(m, c->net_peer) >= 0);
    }
    FUZZ_ASSERT(mains <= 1);
    for (size_t i = 0; i < m->n_networks; i++)
        FUZZ_ASSERT(m->networks[i].name && m->networks[i].prefix <= 32);
    free(seen);
    free(pos);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct manifest *m = NULL;
    struct diag d = { 0 };
    int r = manifest_load_buffer(NAME, (const char *)data, size, MANIFEST_NO_FS_CHECKS, &m, &d);
    check_diag(&d, count_lines(data, size));
    if (r < 0) {
        FUZZ_ASSERT(m == NULL);
        FUZZ_ASSERT(d.count > 0 || r == -ENOMEM);
    } else {
        FUZZ_ASSERT(r == 0 && m != NULL && d.count == 0);
        check_manifest(m);
        FILE *out = fuzz_devnull();
        plan_print_summary(m, out);
        plan_print(m, out);
        fflush(out);
    }
    manifest_free(m);
    diag_free(&d);
    return 0;
}
