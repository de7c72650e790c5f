/* rlimit.c — per-container resource limits (see rlimit.h). */
#include "keel/rlimit.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include "keel/util.h"

static void value_str(uint64_t v, char *buf, size_t n)
{
    if (v == RLIM_INFINITY)
        snprintf(buf, n, "unlimited");
    else
        snprintf(buf, n, "%" PRIu64, v);
}

static int set_one(int resource, uint64_t soft, uint64_t hard, struct kerr *err)
{
    struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };
    if (setrlimit(resource, &rl) == 0)
        return 0;
    char s[24], h[24];
    value_str(soft, s, sizeof s);
    value_str(hard, h, sizeof h);
    const char *name = parse_rlimit_name(resource);
    return kerr_set(err, errno, "cannot set rlimit %s=%s:%s", name ? name : "?", s, h);
}

int rlimit_apply(const struct rlimit_spec *r, size_t n, struct kerr *err)
{
    bool nofile = false;
    for (size_t i = 0; i < n; i++)
        nofile |= r[i].resource == RLIMIT_NOFILE;
    if (!nofile && set_one(RLIMIT_NOFILE, RLIMIT_DEFAULT_NOFILE_SOFT, RLIMIT_DEFAULT_NOFILE_HARD, NULL) < 0) {
        /* Keep the hard limit we have; only make sure the soft one is sane. */
        struct rlimit cur;
        if (getrlimit(RLIMIT_NOFILE, &cur) == 0) {
            uint64_t soft = RLIMIT_DEFAULT_NOFILE_SOFT;
            if (soft > cur.rlim_max)
                soft = cur.rlim_max;
            set_one(RLIMIT_NOFILE, soft, cur.rlim_max, NULL);
        }
    }
    for (size_t i = 0; i < n; i++) {
        int e = set_one(r[i].resource, r[i].soft, r[i].hard, err);
        if (e < 0)
            return e;
    }
    return 0;
}

void rlimit_plan(const struct container_spec *c, FILE *out)
{
    bool nofile = false;
    char s[24], h[24];
    for (size_t i = 0; i < c->n_rlimits; i++) {
        const struct rlimit_spec *r = &c->rlimits[i];
        nofile |= r->resource == RLIMIT_NOFILE;
        value_str(r->soft, s, sizeof s);
        value_str(r->hard, h, sizeof h);
        fprintf(out, "    rlimit %s = %s:%s\n", parse_rlimit_name(r->resource) ? parse_rlimit_name(r->resource) : "?", s, h);
    }
    if (!nofile)
        fprintf(out, "    rlimit nofile = %d:%d (default)\n", RLIMIT_DEFAULT_NOFILE_SOFT, RLIMIT_DEFAULT_NOFILE_HARD);
}

long rlimit_raise_own_nofile(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) < 0)
        return -errno;
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &r) < 0)
            return -errno;
    }
    return r.rlim_cur > LONG_MAX ? LONG_MAX : (long)r.rlim_cur;
}
