/* rlimit.c — per-container resource limits (see rlimit.h). */
#include "keel/rlimit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include "keel/util.h"

static const struct { const char *name; int resource; } resources[] = {
    { "as", RLIMIT_AS }, { "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU }, { "data", RLIMIT_DATA },
    { "fsize", RLIMIT_FSIZE }, { "locks", RLIMIT_LOCKS }, { "memlock", RLIMIT_MEMLOCK },
    { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE }, { "nofile", RLIMIT_NOFILE },
    { "nproc", RLIMIT_NPROC }, { "rss", RLIMIT_RSS }, { "rtprio", RLIMIT_RTPRIO },
    { "rttime", RLIMIT_RTTIME }, { "sigpending", RLIMIT_SIGPENDING }, { "stack", RLIMIT_STACK },
};


const char *rlimit_name(int resource)
{
    for (size_t i = 0; i < ARRAY_SIZE(resources); i++)
        if (resources[i].resource == resource)
            return resources[i].name;
    return NULL;
}

/* A decimal value or "unlimited"/"infinity" of [s, s+len). */
static int parse_value(const char *s, size_t len, uint64_t *out)
{
    if ((len == 9 && memcmp(s, "unlimited", 9) == 0) || (len == 8 && memcmp(s, "infinity", 8) == 0)) {
        *out = RLIM_INFINITY;
        return 0;
    }
    if (len == 0 || len > 20)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    /* RLIM_INFINITY is all ones: a number may not alias it. */
    if (v == RLIM_INFINITY)
        return -ERANGE;
    *out = v;
    return 0;
}

int rlimit_parse(const char *s, struct rlimit_spec *out, char *why)
{
    const char *eq = strchr(s, '=');
    if (!eq)
        return PARSE_FAIL(why, EINVAL, "expected NAME=SOFT[:HARD], got \"%.60s\"", s);
    size_t nl = (size_t)(eq - s);
    int resource = -1;
    for (size_t i = 0; i < ARRAY_SIZE(resources); i++)
        if (strlen(resources[i].name) == nl && memcmp(resources[i].name, s, nl) == 0)
            resource = resources[i].resource;
    if (resource < 0) {
        char name[40];
        snprintf(name, sizeof name, "%.*s", (int)(nl < 32 ? nl : 32), s);
        return PARSE_FAIL(why, EINVAL, "unknown resource \"%s\" (see rlimit in docs/manifest.md)", name);
    }
    const char *v = eq + 1, *colon = strchr(v, ':');
    size_t sl = colon ? (size_t)(colon - v) : strlen(v);
    uint64_t soft, hard;
    int r = parse_value(v, sl, &soft);
    if (r < 0)
        return r == -ERANGE ? PARSE_FAIL(why, ERANGE, "soft limit out of range in \"%.60s\"", s)
                            : PARSE_FAIL(why, EINVAL, "invalid soft limit in \"%.60s\" (a number or unlimited)", s);
    hard = soft;
    if (colon) {
        r = parse_value(colon + 1, strlen(colon + 1), &hard);
        if (r < 0)
            return r == -ERANGE ? PARSE_FAIL(why, ERANGE, "hard limit out of range in \"%.60s\"", s)
                                : PARSE_FAIL(why, EINVAL, "invalid hard limit in \"%.60s\" (a number or unlimited)", s);
    }
    /* RLIM_INFINITY is the largest value, so the comparison holds for it. */
    if (soft > hard)
        return PARSE_FAIL(why, EINVAL, "soft limit above hard limit in \"%.60s\"", s);
    out->resource = resource;
    out->soft = soft;
    out->hard = hard;
    return 0;
}

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
    const char *name = rlimit_name(resource);
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
        fprintf(out, "    rlimit %s = %s:%s\n", rlimit_name(r->resource) ? rlimit_name(r->resource) : "?", s, h);
    }
    if (!nofile)
        fprintf(out, "    rlimit nofile = %d:%d (default)\n", RLIMIT_DEFAULT_NOFILE_SOFT, RLIMIT_DEFAULT_NOFILE_HARD);
}
