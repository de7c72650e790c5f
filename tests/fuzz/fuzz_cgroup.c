/* fuzz_cgroup.c — the parsers of cgroup v2 and /proc files (cgroup_plan.h):
 * cpu.stat, memory.events, cgroup.events, io.stat, *.pressure,
 * cgroup.controllers, single values, /proc/self/cgroup and the cgroup2 line of
 * /proc/self/mountinfo.  In `keel run` these files belong to a host keel does
 * not control, and a container can fill io.stat with devices: every parser
 * gets every input, and must answer 0 or -EINVAL, never crash.
 *
 * fuzz-requires: src/cgroup_plan.c
 *
 * Invariants beyond "no crash, no leak": results are in range (controller
 * bits within CG_ALL, pressure averages finite and >= 0), and output strings are
 * NUL-terminated within their buffers.
 */
#include "fuzz.h"

#include <errno.h>
#include <math.h>

#include "keel/cgroup.h"

/* The kernel prints percentages; the parser takes any non-negative decimal
 * (a value above 100 is odd but harmless), never a NaN, infinity or sign. */
static void check_pressure(const struct cgroup_pressure *p)
{
    FUZZ_ASSERT(isfinite(p->avg10) && p->avg10 >= 0);
    FUZZ_ASSERT(isfinite(p->avg60) && p->avg60 >= 0);
    FUZZ_ASSERT(isfinite(p->avg300) && p->avg300 >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_str(data, size);
    int r;

    struct cgroup_stats st;
    memset(&st, 0, sizeof st);
    r = cgroup_parse_cpu_stat(s, &st);
    FUZZ_ASSERT(r == 0 || r == -EINVAL);
    r = cgroup_parse_io_stat(s, &st);
    FUZZ_ASSERT(r == 0 || r == -EINVAL);

    struct cgroup_events ev;
    memset(&ev, 0, sizeof ev);
    r = cgroup_parse_memory_events(s, &ev);
    FUZZ_ASSERT(r == 0 || r == -EINVAL);
    r = cgroup_parse_cgroup_events(s, &ev);
    FUZZ_ASSERT(r == 0 || r == -EINVAL);

    struct cgroup_pressure some = { 0 }, full = { 0 };
    r = cgroup_parse_pressure(s, &some, &full);
    FUZZ_ASSERT(r == 0 || r == -EINVAL);
    if (r == 0) {
        check_pressure(&some);
        check_pressure(&full);
    }

    unsigned ctl = 0;
    r = cgroup_parse_controllers(s, &ctl);
    FUZZ_ASSERT(r == 0 || r == -EINVAL);
    if (r == 0)
        FUZZ_ASSERT((ctl & ~(unsigned)CG_ALL) == 0);

    uint64_t u;
    r = cgroup_parse_u64(s, &u);
    FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);

    char path[64];
    memset(path, 'x', sizeof path);
    r = cgroup_parse_self(s, path, sizeof path);
    if (r == 0)
        FUZZ_ASSERT(memchr(path, '\0', sizeof path) != NULL && path[0] == '/');

    char mnt[64], root[64];
    memset(mnt, 'x', sizeof mnt);
    memset(root, 'x', sizeof root);
    r = cgroup_parse_mountinfo(s, mnt, sizeof mnt, root, sizeof root);
    if (r == 0)
        FUZZ_ASSERT(memchr(mnt, '\0', sizeof mnt) != NULL && memchr(root, '\0', sizeof root) != NULL);

    free(s);
    return 0;
}
