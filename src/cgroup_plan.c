/* cgroup_plan.c — the pure half of the cgroup module (see cgroup_plan.h):
 * parsers of cgroup and /proc files, and the planner that turns a
 * container's limits into file writes.  Nothing here touches the system
 * except cgroup_resolve_blockdev's stat(2), which the planner calls only when
 * no resolver is given.
 */
#include "keel/cgroup_plan.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "keel/util.h"

/* ------------------------------------------------------------------------ */
/* Pure parsers.                                                             */

/* Next line of *p (without its '\n'); false at the end of the buffer. */
static bool next_line(const char **p, const char **line, size_t *len)
{
    if (!*p || !**p)
        return false;
    const char *nl = strchr(*p, '\n');
    *line = *p;
    *len = nl ? (size_t)(nl - *p) : strlen(*p);
    *p = nl ? nl + 1 : *p + *len;
    return true;
}

/* Next blank-separated field of [*s, end). */
static bool next_field(const char **s, const char *end, const char **f, size_t *flen)
{
    const char *q = *s;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    if (q >= end)
        return false;
    const char *b = q;
    while (q < end && *q != ' ' && *q != '\t')
        q++;
    *f = b;
    *flen = (size_t)(q - b);
    *s = q;
    return true;
}

static bool tok_eq(const char *f, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(f, word, len) == 0;
}

/* Unsigned decimal of exactly `len` characters, no sign, overflow checked. */
static int tok_u64(const char *f, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (f[i] < '0' || f[i] > '9')
            return -EINVAL;
        unsigned d = (unsigned)(f[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* A "key value" file: for each line whose key is in `keys`, stores the
 * value at the same index of `vals` and sets the bit in *seen. */
static int parse_flat_keyed(const char *buf, const char *const *keys, uint64_t *const *vals, size_t n,
                            unsigned *seen)
{
    const char *p = buf, *line;
    size_t len;
    *seen = 0;
    while (next_line(&p, &line, &len)) {
        const char *s = line, *end = line + len, *k, *v;
        size_t kl, vl;
        if (!next_field(&s, end, &k, &kl))
            continue;                       /* blank line */
        for (size_t i = 0; i < n; i++) {
            if (!tok_eq(k, kl, keys[i]))
                continue;
            const char *x;
            size_t xl;
            if (!next_field(&s, end, &v, &vl) || next_field(&s, end, &x, &xl))
                return -EINVAL;
            if (tok_u64(v, vl, vals[i]) < 0)
                return -EINVAL;
            *seen |= 1u << i;
        }
    }
    return 0;
}

int cgroup_parse_cpu_stat(const char *buf, struct cgroup_stats *st)
{
    static const char *const keys[] = { "usage_usec", "user_usec", "system_usec",
                                        "nr_periods", "nr_throttled", "throttled_usec" };
    uint64_t *vals[] = { &st->cpu_usage_us, &st->cpu_user_us, &st->cpu_system_us,
                         &st->cpu_nr_periods, &st->cpu_nr_throttled, &st->cpu_throttled_us };
    unsigned seen;
    int r = parse_flat_keyed(buf, keys, vals, ARRAY_SIZE(keys), &seen);
    if (r < 0)
        return r;
    if (!(seen & 1u))
        return -EINVAL;                     /* usage_usec is always there */
    st->has_cpu = true;
    return 0;
}

int cgroup_parse_memory_events(const char *buf, struct cgroup_events *ev)
{
    static const char *const keys[] = { "low", "high", "max", "oom", "oom_kill", "oom_group_kill" };
    uint64_t *vals[] = { &ev->low, &ev->high, &ev->max, &ev->oom, &ev->oom_kill, &ev->oom_group_kill };
    unsigned seen;
    int r = parse_flat_keyed(buf, keys, vals, ARRAY_SIZE(keys), &seen);
    if (r < 0)
        return r;
    return (seen & (1u << 4)) ? 0 : -EINVAL;   /* oom_kill is what keel needs */
}

int cgroup_parse_cgroup_events(const char *buf, struct cgroup_events *ev)
{
    static const char *const keys[] = { "populated", "frozen" };
    uint64_t populated = 0, frozen = 0;
    uint64_t *vals[] = { &populated, &frozen };
    unsigned seen;
    int r = parse_flat_keyed(buf, keys, vals, ARRAY_SIZE(keys), &seen);
    if (r < 0)
        return r;
    if (!(seen & 1u) || populated > 1 || frozen > 1)
        return -EINVAL;
    ev->populated = populated == 1;
    ev->frozen = frozen == 1;
    return 0;
}

int cgroup_parse_io_stat(const char *buf, struct cgroup_stats *st)
{
    static const char *const keys[] = { "rbytes", "wbytes", "rios", "wios" };
    uint64_t sums[4] = { 0 };
    const char *p = buf, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        const char *s = line, *end = line + len, *f;
        size_t fl;
        if (!next_field(&s, end, &f, &fl))
            continue;
        /* The first field is the device, MAJ:MIN. */
        const char *colon = memchr(f, ':', fl);
        uint64_t maj, min;
        if (!colon || tok_u64(f, (size_t)(colon - f), &maj) < 0 ||
            tok_u64(colon + 1, fl - (size_t)(colon - f) - 1, &min) < 0)
            return -EINVAL;
        while (next_field(&s, end, &f, &fl)) {
            const char *eq = memchr(f, '=', fl);
            if (!eq)
                return -EINVAL;
            size_t kl = (size_t)(eq - f);
            for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                if (!tok_eq(f, kl, keys[i]))
                    continue;
                uint64_t v;
                if (tok_u64(eq + 1, fl - kl - 1, &v) < 0)
                    return -EINVAL;
                sums[i] = sums[i] + v < sums[i] ? UINT64_MAX : sums[i] + v;  /* saturate */
            }
        }
    }
    st->io_rbytes = sums[0];
    st->io_wbytes = sums[1];
    st->io_rios = sums[2];
    st->io_wios = sums[3];
    st->has_io = true;
    return 0;
}

/* "12.34": a non-negative decimal fraction of at most 31 characters. */
static int tok_double(const char *f, size_t len, double *out)
{
    char tmp[32];
    if (len == 0 || len >= sizeof tmp)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (!(isdigit((unsigned char)f[i]) || f[i] == '.'))
            return -EINVAL;
    memcpy(tmp, f, len);
    tmp[len] = '\0';
    char *e;
    errno = 0;
    double d = strtod(tmp, &e);
    if (*e || errno)
        return -EINVAL;
    *out = d;
    return 0;
}

int cgroup_parse_pressure(const char *buf, struct cgroup_pressure *some, struct cgroup_pressure *full)
{
    const char *p = buf, *line;
    size_t len;
    bool got_some = false;
    while (next_line(&p, &line, &len)) {
        const char *s = line, *end = line + len, *f;
        size_t fl;
        if (!next_field(&s, end, &f, &fl))
            continue;
        struct cgroup_pressure tmp = { 0 }, *dst;
        if (tok_eq(f, fl, "some"))
            dst = some;
        else if (tok_eq(f, fl, "full"))
            dst = full;
        else
            return -EINVAL;
        unsigned seen = 0;
        while (next_field(&s, end, &f, &fl)) {
            const char *eq = memchr(f, '=', fl);
            if (!eq)
                return -EINVAL;
            size_t kl = (size_t)(eq - f), vl = fl - kl - 1;
            int r = 0;
            if (tok_eq(f, kl, "avg10"))
                r = tok_double(eq + 1, vl, &tmp.avg10), seen |= 1;
            else if (tok_eq(f, kl, "avg60"))
                r = tok_double(eq + 1, vl, &tmp.avg60), seen |= 2;
            else if (tok_eq(f, kl, "avg300"))
                r = tok_double(eq + 1, vl, &tmp.avg300), seen |= 4;
            else if (tok_eq(f, kl, "total"))
                r = tok_u64(eq + 1, vl, &tmp.total_us), seen |= 8;
            if (r < 0)
                return -EINVAL;
        }
        if (seen != 15)
            return -EINVAL;
        if (dst == some)
            got_some = true;
        if (dst)
            *dst = tmp;
    }
    return got_some ? 0 : -EINVAL;
}

static const struct { const char *name; unsigned bit; } controller_names[] = {
    { "cpu", CG_CPU }, { "cpuset", CG_CPUSET }, { "memory", CG_MEMORY }, { "io", CG_IO }, { "pids", CG_PIDS },
};

const char *cgroup_controller_name(unsigned bit)
{
    for (size_t i = 0; i < ARRAY_SIZE(controller_names); i++)
        if (controller_names[i].bit == bit)
            return controller_names[i].name;
    return "?";
}

int cgroup_parse_controllers(const char *buf, unsigned *out)
{
    const char *s = buf, *end = buf + strlen(buf), *f;
    size_t fl;
    unsigned bits = 0;
    while (s < end) {
        /* Fields are separated by blanks; a newline ends the list. */
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *lend = nl ? nl : end;
        while (next_field(&s, lend, &f, &fl))
            for (size_t i = 0; i < ARRAY_SIZE(controller_names); i++)
                if (tok_eq(f, fl, controller_names[i].name))
                    bits |= controller_names[i].bit;
        s = nl ? nl + 1 : end;
    }
    *out = bits;
    return 0;
}

int cgroup_parse_u64(const char *buf, uint64_t *out)
{
    size_t len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        len--;
    if (tok_eq(buf, len, "max")) {
        *out = UINT64_MAX;
        return 0;
    }
    return tok_u64(buf, len, out) < 0 ? -EINVAL : 0;
}

int cgroup_parse_self(const char *buf, char *path, size_t n)
{
    const char *p = buf, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        if (len < 3 || memcmp(line, "0::", 3) != 0)
            continue;
        size_t pl = len - 3;
        if (pl == 0 || line[3] != '/')
            return -EINVAL;
        if (pl >= n)
            return -ENAMETOOLONG;
        memcpy(path, line + 3, pl);
        path[pl] = '\0';
        return 0;
    }
    return -ENOENT;
}

/* The kernel's PROC_CGROUP_INIT_INO (include/linux/proc_ns.h, not uapi):
 * the initial namespaces' inodes are fixed numbers. */
#define CG_INIT_NS_INO 0xEFFFFFFBu
#define CG_NSFS_MAGIC 0x6e736673u
#define CG_CGROUP2_MAGIC 0x63677270u

bool cgroup_mount_is_root(unsigned long mnt_fstype, uint64_t mnt_ino, unsigned long ns_fstype, uint64_t ns_ino)
{
    return mnt_fstype == CG_CGROUP2_MAGIC && mnt_ino == 1 && ns_fstype == CG_NSFS_MAGIC &&
           ns_ino == CG_INIT_NS_INO;
}

/* Copies a mountinfo field decoding \NNN octal escapes (space, tab,
 * newline and backslash are escaped by the kernel). */
static int unescape_field(const char *f, size_t len, char *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = f[i];
        if (c == '\\' && len - i > 3 && f[i + 1] >= '0' && f[i + 1] <= '3' && f[i + 2] >= '0' &&
            f[i + 2] <= '7' && f[i + 3] >= '0' && f[i + 3] <= '7') {
            c = (char)((f[i + 1] - '0') * 64 + (f[i + 2] - '0') * 8 + (f[i + 3] - '0'));
            i += 3;
        }
        if (o + 1 >= n)
            return -ENAMETOOLONG;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

int cgroup_parse_mountinfo(const char *buf, char *mountpoint, size_t mn, char *root, size_t rn)
{
    const char *p = buf, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        const char *s = line, *end = line + len, *f[5];
        size_t fl[5];
        bool ok = true;
        /* id parent maj:min root mountpoint */
        for (int i = 0; i < 5 && ok; i++)
            ok = next_field(&s, end, &f[i], &fl[i]);
        if (!ok)
            continue;
        /* Skip options and optional fields up to the "-" separator. */
        const char *x;
        size_t xl;
        bool sep = false;
        while (next_field(&s, end, &x, &xl))
            if (tok_eq(x, xl, "-")) {
                sep = true;
                break;
            }
        if (!sep || !next_field(&s, end, &x, &xl) || !tok_eq(x, xl, "cgroup2"))
            continue;
        int r = unescape_field(f[4], fl[4], mountpoint, mn);
        if (r == 0)
            r = unescape_field(f[3], fl[3], root, rn);
        return r;
    }
    return -ENOENT;
}

bool cgroup_parse_next_pid(const char **cursor, pid_t *pid)
{
    const char *line;
    size_t len;
    while (next_line(cursor, &line, &len)) {
        uint64_t v;
        if (tok_u64(line, len, &v) == 0 && v > 0 && v < INT32_MAX) {
            *pid = (pid_t)v;
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Planning the writes of a container's cgroup (pure but for the resolver).  */

unsigned cgroup_spec_controllers(const struct container_spec *c)
{
    unsigned need = 0;
    if (c->memory_max != KEEL_LIMIT_UNSET || c->memory_high != KEEL_LIMIT_UNSET ||
        c->memory_swap != KEEL_LIMIT_UNSET)
        need |= CG_MEMORY;
    if (c->cpu_quota_us != KEEL_LIMIT_UNSET || c->cpu_weight != KEEL_LIMIT_UNSET)
        need |= CG_CPU;
    if (c->cpuset && *c->cpuset)
        need |= CG_CPUSET;
    /* The default pids.max (pids_line 0) is applied where the controller
     * is, never a reason to refuse a container; nor is `pids = max`. */
    if (c->pids_max != KEEL_LIMIT_UNSET && c->pids_max != KEEL_LIMIT_MAX && c->pids_line != 0)
        need |= CG_PIDS;
    if (c->io_weight != KEEL_LIMIT_UNSET || c->n_io_read_bps || c->n_io_write_bps ||
        c->n_io_read_iops || c->n_io_write_iops)
        need |= CG_IO;
    return need;
}

bool cgroup_spec_has_limits(const struct container_spec *c)
{
    return cgroup_spec_controllers(c) != 0;
}

void cgroup_writes_free(struct cgroup_writes *w)
{
    free(w->w);
    w->w = NULL;
    w->n = 0;
}

static struct cgroup_write *writes_add(struct cgroup_writes *w, unsigned ctrl, const char *file, int line)
{
    struct cgroup_write *nw = realloc(w->w, (w->n + 1) * sizeof *nw);
    if (!nw)
        return NULL;
    w->w = nw;
    struct cgroup_write *e = &nw[w->n++];
    memset(e, 0, sizeof *e);
    e->controller = ctrl;
    e->line = line;
    snprintf(e->file, sizeof e->file, "%s", file);
    return e;
}

static int add_value(struct cgroup_writes *w, unsigned ctrl, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int add_value(struct cgroup_writes *w, unsigned ctrl, const char *file, int line, const char *fmt, ...)
{
    struct cgroup_write *e = writes_add(w, ctrl, file, line);
    if (!e)
        return -ENOMEM;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->value, sizeof e->value, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= sizeof e->value ? -ENAMETOOLONG : 0;
}

/* "max" for KEEL_LIMIT_MAX, else the decimal value. */
static const char *limit_str(int64_t v, char *buf, size_t n)
{
    if (v == KEEL_LIMIT_MAX)
        return "max";
    snprintf(buf, n, "%" PRId64, v);
    return buf;
}

static const char *io_value_str(uint64_t v, char *buf, size_t n)
{
    if (v == UINT64_MAX || v == (uint64_t)KEEL_LIMIT_MAX)
        return "max";
    snprintf(buf, n, "%" PRIu64, v);
    return buf;
}

int cgroup_resolve_blockdev(const char *path, dev_t *dev)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISBLK(st.st_mode))
        return -ENOTBLK;
    *dev = st.st_rdev;
    return 0;
}

/* io.max: one line per device, keys merged ("8:0 rbps=1 wiops=2"). */
static int plan_io_max(const struct container_spec *c, cgroup_dev_resolver resolve, struct cgroup_writes *out,
                       struct kerr *err)
{
    const struct { const char *key; const struct io_limit *v; size_t n; } kinds[] = {
        { "rbps", c->io_read_bps, c->n_io_read_bps },
        { "wbps", c->io_write_bps, c->n_io_write_bps },
        { "riops", c->io_read_iops, c->n_io_read_iops },
        { "wiops", c->io_write_iops, c->n_io_write_iops },
    };
    size_t first = out->n;
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        for (size_t i = 0; i < kinds[k].n; i++) {
            const struct io_limit *l = &kinds[k].v[i];
            dev_t dev = 0;   /* set by resolve on success; the analyzer cannot see through the pointer */
            int r = resolve(l->device, &dev);
            if (r < 0)
                return kerr_set(err, -r, "cannot resolve block device %s for io limits of container %s",
                                l->device, c->name);
            char devs[32], num[32];
            snprintf(devs, sizeof devs, "%u:%u", major(dev), minor(dev));
            /* Merge into this device's line when there is one. */
            struct cgroup_write *e = NULL;
            for (size_t j = first; j < out->n; j++)
                if (str_starts(out->w[j].value, devs) && out->w[j].value[strlen(devs)] == ' ')
                    e = &out->w[j];
            if (!e) {
                e = writes_add(out, CG_IO, "io.max", l->line);
                if (!e)
                    return kerr_set(err, ENOMEM, "cannot plan cgroup of container %s", c->name);
                snprintf(e->value, sizeof e->value, "%s", devs);
            }
            size_t used = strlen(e->value);
            int n = snprintf(e->value + used, sizeof e->value - used, " %s=%s", kinds[k].key,
                             io_value_str(l->value, num, sizeof num));
            if (n < 0 || (size_t)n >= sizeof e->value - used)
                return kerr_msg(err, E2BIG, "io.max line for %s of container %s is too long", l->device,
                                c->name);
        }
    }
    return 0;
}

int cgroup_plan_writes(const struct container_spec *c, unsigned controllers, cgroup_dev_resolver resolve,
                       struct cgroup_writes *out, struct kerr *err)
{
    char a[32], b[32];
    int r = 0;
    out->w = NULL;
    out->n = 0;
    if (!resolve)
        resolve = cgroup_resolve_blockdev;

    /* cpuset first: it is the one write that can fail on a value the
     * parser accepted (CPUs the machine does not have). */
    if (c->cpuset && *c->cpuset) {
        for (const char *p = c->cpuset; *p; p++)
            if (!(isdigit((unsigned char)*p) || *p == ',' || *p == '-')) {
                r = kerr_msg(err, EINVAL, "invalid cpuset \"%s\" of container %s", c->cpuset, c->name);
                goto fail;
            }
        r = add_value(out, CG_CPUSET, "cpuset.cpus", 0, "%s", c->cpuset);
    }
    if (r == 0 && c->cpu_quota_us != KEEL_LIMIT_UNSET) {
        int64_t period = c->cpu_period_us > 0 ? c->cpu_period_us : 100000;
        r = add_value(out, CG_CPU, "cpu.max", 0, "%s %" PRId64, limit_str(c->cpu_quota_us, a, sizeof a), period);
    }
    if (r == 0 && c->cpu_weight != KEEL_LIMIT_UNSET)
        r = add_value(out, CG_CPU, "cpu.weight", 0, "%" PRId64, c->cpu_weight);
    if (r == 0 && c->memory_swap != KEEL_LIMIT_UNSET)
        r = add_value(out, CG_MEMORY, "memory.swap.max", 0, "%s", limit_str(c->memory_swap, a, sizeof a));
    if (r == 0 && c->memory_high != KEEL_LIMIT_UNSET)
        r = add_value(out, CG_MEMORY, "memory.high", 0, "%s", limit_str(c->memory_high, a, sizeof a));
    if (r == 0 && c->memory_max != KEEL_LIMIT_UNSET)
        r = add_value(out, CG_MEMORY, "memory.max", 0, "%s", limit_str(c->memory_max, b, sizeof b));
    if (r == 0 && c->pids_max != KEEL_LIMIT_UNSET && (controllers & CG_PIDS))
        r = add_value(out, CG_PIDS, "pids.max", 0, "%s", limit_str(c->pids_max, a, sizeof a));
    if (r == 0 && c->io_weight != KEEL_LIMIT_UNSET)
        r = add_value(out, CG_IO, "io.weight", 0, "default %" PRId64, c->io_weight);
    if (r < 0) {
        r = kerr_set(err, -r, "cannot plan cgroup of container %s", c->name);
        goto fail;
    }
    r = plan_io_max(c, resolve, out, err);
    if (r < 0)
        goto fail;
    /* An OOM kill takes the whole container, so no half-dead service lingers. */
    if ((controllers & CG_MEMORY) && add_value(out, CG_MEMORY, "memory.oom.group", 0, "1") < 0) {
        r = kerr_set(err, ENOMEM, "cannot plan cgroup of container %s", c->name);
        goto fail;
    }
    return 0;
fail:
    cgroup_writes_free(out);
    return r;
}

int cgroup_plan_reset(unsigned controllers, const char *io_max, struct cgroup_writes *out)
{
    static const struct { unsigned ctrl; const char *file, *value; } defaults[] = {
        { CG_CPUSET, "cpuset.cpus", "\n" },
        { CG_CPU, "cpu.max", "max 100000" },
        { CG_CPU, "cpu.weight", "100" },
        { CG_MEMORY, "memory.swap.max", "max" },
        { CG_MEMORY, "memory.high", "max" },
        { CG_MEMORY, "memory.max", "max" },
        { CG_PIDS, "pids.max", "max" },
        { CG_IO, "io.weight", "default 100" },
    };
    *out = (struct cgroup_writes){ 0 };
    for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
        if ((controllers & defaults[i].ctrl) &&
            add_value(out, defaults[i].ctrl, defaults[i].file, 0, "%s", defaults[i].value) < 0)
            goto nomem;
    if (!(controllers & CG_IO) || !io_max)
        return 0;
    /* Every device line of io.max back to no limit. */
    const char *p = io_max, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        const char *s = line, *end = line + len, *f;
        size_t fl;
        if (next_field(&s, end, &f, &fl) && fl < 32 &&
            add_value(out, CG_IO, "io.max", 0, "%.*s rbps=max wbps=max riops=max wiops=max", (int)fl, f) < 0)
            goto nomem;
    }
    return 0;
nomem:
    cgroup_writes_free(out);
    return -ENOMEM;
}

void cgroup_plan(const struct container_spec *c, FILE *out)
{
    struct cgroup_writes w;
    struct kerr err = { 0 };
    /* The plan may be printed on another machine than the appliance: an
     * unresolvable device is shown as an error line, not fatal. */
    if (cgroup_plan_writes(c, CG_ALL, NULL, &w, &err) < 0) {
        fprintf(out, "    cgroup: error: %s\n", err.msg);
        return;
    }
    for (size_t i = 0; i < w.n; i++)
        fprintf(out, "    cgroup %s = %s\n", w.w[i].file, w.w[i].value);
    cgroup_writes_free(&w);
}
uint64_t cgroup_pids_budget(uint64_t pid_max, uint64_t threads_max)
{
    uint64_t limit = pid_max < threads_max ? pid_max : threads_max;
    uint64_t reserve = limit / 8 > CGROUP_PIDS_RESERVE_MIN ? limit / 8 : CGROUP_PIDS_RESERVE_MIN;
    if (reserve > limit / 2)
        reserve = limit / 2;
    return limit - reserve;
}
