/* cgroup.c — cgroup v2 for keel: its subtree, per-container cgroups with
 * their limits, kill, events and accounting (see cgroup.h).
 *
 * Everything below the containers' cgroup goes through root->keel_fd with *at()
 * calls, so the file-writing logic runs unchanged against a plain directory
 * in the unit tests (cgroup_open_at with plain_dir).  The parsers of kernel
 * files are pure and at the top of the file.
 */
#include "keel/cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "keel/log.h"
#include "keel/util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define SUPERVISOR_LEAF "supervisor"
#define CONTAINERS_DIR "containers"
#define CG_FILE_MAX (1u << 20)   /* no cgroup file keel reads is near this */

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

static const char *controller_name(unsigned bit)
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
            dev_t dev;
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

/* ------------------------------------------------------------------------ */
/* System effects.                                                           */

static int cg_write(const struct cgroup_root *root, int dirfd, const char *file, const char *value)
{
    int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY;
    if (root->plain_dir)
        flags |= O_CREAT | O_TRUNC;
    _cleanup_close_ int fd = openat(dirfd, file, flags, 0644);
    if (fd < 0)
        return -errno;
    /* One write(2) per value: cgroupfs parses each write on its own. */
    ssize_t n = write(fd, value, strlen(value));
    if (n < 0)
        return -errno;
    return (size_t)n == strlen(value) ? 0 : -EIO;
}

static int cg_read(int dirfd, const char *file, char **out)
{
    return read_file_at(dirfd, file, CG_FILE_MAX, out, NULL);
}

static bool valid_name(const char *name)
{
    return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
           strlen(name) < 256;
}

static int open_container_dir(const struct cgroup_root *root, const char *name)
{
    if (!valid_name(name))
        return -EINVAL;
    int fd = openat(root->keel_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return fd;
}

static void root_init(struct cgroup_root *root)
{
    memset(root, 0, sizeof *root);
    root->keel_fd = -1;
    root->start_fd = -1;
    root->lock_fd = -1;
}

int cgroup_open_at(struct cgroup_root *root, const char *path, unsigned controllers, bool plain_dir,
                   struct kerr *err)
{
    root_init(root);
    if (str_copy(root->keel_path, sizeof root->keel_path, path) < 0 ||
        str_copy(root->ctr_path, sizeof root->ctr_path, path) < 0)
        return kerr_set(err, ENAMETOOLONG, "cannot use cgroup directory %s", path);
    root->keel_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root->keel_fd < 0)
        return kerr_set(err, errno, "cannot open cgroup directory %s", path);
    root->controllers = controllers & CG_ALL;
    root->plain_dir = plain_dir;
    root->available = true;
    return 0;
}

int cgroup_set_oom_score_adj(pid_t pid, int value, struct kerr *err)
{
    char path[64], v[16];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/oom_score_adj");
    snprintf(v, sizeof v, "%d", value);
    int r = write_file_at(AT_FDCWD, path, v);
    if (r < 0)
        return kerr_set(err, -r, "cannot write %s to %s", v, path);
    return 0;
}

/* Enables each offered controller of `want` in dirfd's subtree_control, one
 * at a time so that one refusal (cpuset busy, say) does not cost the others.
 * Returns the bits enabled. */
static unsigned enable_controllers(int dirfd, unsigned want, const char *path)
{
    _cleanup_free_ char *buf = NULL;
    unsigned offered = 0, enabled = 0;
    char failed[64] = "";
    int why = 0;
    if (cg_read(dirfd, "cgroup.controllers", &buf) == 0)
        cgroup_parse_controllers(buf, &offered);
    for (size_t i = 0; i < ARRAY_SIZE(controller_names); i++) {
        unsigned bit = controller_names[i].bit;
        if (!(want & bit) || !(offered & bit))
            continue;
        char v[16];
        snprintf(v, sizeof v, "+%s", controller_names[i].name);
        int fd = openat(dirfd, "cgroup.subtree_control", O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            log_warn("cannot open %s/cgroup.subtree_control: %s", path, strerror(errno));
            break;
        }
        if (write(fd, v, strlen(v)) < 0) {
            why = errno;
            size_t used = strlen(failed);
            snprintf(failed + used, sizeof failed - used, " %s", controller_names[i].name);
        } else {
            enabled |= bit;
        }
        close(fd);
    }
    /* One line for all refusals (typically EBUSY: other processes live in
     * the cgroup keel was started in). */
    if (why)
        log_warn("cannot enable cgroup controllers%s in %s: %s", failed, path, strerror(why));
    return enabled;
}

/* Moves the calling process into dirfd's cgroup. */
static int move_self(int dirfd)
{
    char v[24];
    snprintf(v, sizeof v, "%d", (int)getpid());
    _cleanup_close_ int fd = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return write(fd, v, strlen(v)) < 0 ? -errno : 0;
}

/* Locates the cgroup keel runs in on the cgroup2 hierarchy (run mode).
 * 0 with *found = false when there is none. */
static int locate_start_cgroup(char *path, size_t n, bool *found, struct kerr *err)
{
    _cleanup_free_ char *mi = NULL, *self = NULL;
    char mnt[4096], mroot[4096], cg[4096];
    *found = false;
    int r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", 16u << 20, &mi, NULL);
    if (r < 0)
        return kerr_set(err, -r, "cannot read /proc/self/mountinfo");
    if (cgroup_parse_mountinfo(mi, mnt, sizeof mnt, mroot, sizeof mroot) < 0)
        return 0;
    r = read_file_at(AT_FDCWD, "/proc/self/cgroup", 1u << 20, &self, NULL);
    if (r < 0)
        return kerr_set(err, -r, "cannot read /proc/self/cgroup");
    if (cgroup_parse_self(self, cg, sizeof cg) < 0)
        return 0;
    /* The mount shows the hierarchy from `mroot` down; keel's cgroup must
     * be inside it to be reachable. */
    const char *rel = cg;
    if (strcmp(mroot, "/") != 0) {
        size_t ml = strlen(mroot);
        if (strncmp(cg, mroot, ml) != 0 || (cg[ml] != '/' && cg[ml] != '\0')) {
            log_warn("keel's cgroup %s is outside the cgroup2 mount at %s (root %s): cgroups unavailable",
                     cg, mnt, mroot);
            return 0;
        }
        rel = cg + ml;
    }
    if (strcmp(rel, "/") == 0)
        rel = "";
    int len = snprintf(path, n, "%s%s", mnt, rel);
    if (len < 0 || (size_t)len >= n)
        return kerr_set(err, ENAMETOOLONG, "cannot locate keel's cgroup %s", cg);
    *found = true;
    return 0;
}

/* Removes the empty cgroup tree at dirfd/name (children first); best effort. */
static int remove_tree(int parent, const char *name, int depth)
{
    if (depth > 8)
        return -ELOOP;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            remove_tree(dirfd(d), de->d_name, depth + 1);
    closedir(d);
    return unlinkat(parent, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* Run-mode subtrees are owned through a lock, not a pid: keels in different
 * PID namespaces share one hierarchy and may have the same pid.  Each keel
 * holds an exclusive flock on its subtree for its whole life; a subtree whose
 * lock can be taken belongs to a keel that is gone, and is removed.  The
 * sweep and the creation of the new subtree happen under a lock on the
 * parent, so a keel that is just starting is never swept. */
static void sweep_stale(int start_fd)
{
    int fd = openat(start_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_type != DT_DIR || !str_starts(de->d_name, "keel."))
            continue;
        _cleanup_close_ int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub < 0 || flock(sub, LOCK_EX | LOCK_NB) < 0)
            continue;   /* alive (or unreadable): not ours to remove */
        /* cgroup.kill is recursive: what the dead keel left running goes too
         * (the directories can only go once the kernel has reaped it all). */
        write_file_at(sub, "cgroup.kill", "1");
        remove_tree(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* True when the (non-root) cgroup at fd offers a controller that its
 * subtree_control does not delegate yet. */
static bool start_needs_enabling(int fd)
{
    if (faccessat(fd, "cgroup.events", F_OK, 0) < 0 && errno == ENOENT)
        return false;   /* the root cgroup */
    _cleanup_free_ char *offered = NULL, *delegated = NULL;
    unsigned have = 0, given = 0;
    if (read_file_at(fd, "cgroup.controllers", 4096, &offered, NULL) < 0 ||
        read_file_at(fd, "cgroup.subtree_control", 4096, &delegated, NULL) < 0 ||
        cgroup_parse_controllers(offered, &have) < 0 || cgroup_parse_controllers(delegated, &given) < 0)
        return true;
    return (have & CG_ALL & ~given) != 0;
}

uint64_t cgroup_pids_budget(uint64_t pid_max, uint64_t threads_max)
{
    uint64_t limit = pid_max < threads_max ? pid_max : threads_max;
    uint64_t reserve = limit / 8 > CGROUP_PIDS_RESERVE_MIN ? limit / 8 : CGROUP_PIDS_RESERVE_MIN;
    if (reserve > limit / 2)
        reserve = limit / 2;
    return limit - reserve;
}

static int read_sysctl(const char *path, uint64_t *v)
{
    _cleanup_free_ char *buf = NULL;
    int r = read_file_at(AT_FDCWD, path, 64, &buf, NULL);
    return r < 0 ? r : cgroup_parse_u64(buf, v);
}

/* The kernel runs out of pids (kernel.pid_max) or tasks (kernel.threads-max)
 * for everyone at once, root included, and the containers' own pids.max
 * values may add up to more than either.  The containers' cgroup gets the
 * budget, so whatever they do together, the reserve stays for keel (its
 * setup children, health checks, keel exec) and the kernel's threads.  The
 * kernel values are read once, here. */
static void reserve_pids(const struct cgroup_root *root)
{
    uint64_t pid_max = 0, threads_max = 0;
    int r = read_sysctl("/proc/sys/kernel/pid_max", &pid_max);
    if (r == 0)
        r = read_sysctl("/proc/sys/kernel/threads-max", &threads_max);
    char v[32] = "";
    if (r == 0) {
        snprintf(v, sizeof v, "%llu", (unsigned long long)cgroup_pids_budget(pid_max, threads_max));
        r = cg_write(root, root->keel_fd, "pids.max", v);
    }
    if (r < 0)
        log_warn("cannot keep pids in reserve for keel (pids.max of %s): %s", root->ctr_path, strerror(-r));
    else
        log_debug("containers: pids.max %s (kernel.pid_max %llu, kernel.threads-max %llu)", v,
                  (unsigned long long)pid_max, (unsigned long long)threads_max);
}

int cgroup_setup(struct cgroup_root *root, const char *mountpoint, bool boot_mode, struct kerr *err)
{
    char start[4096], name[64];
    root_init(root);
    root->boot_mode = boot_mode;

    if (boot_mode || mountpoint) {
        if (str_copy(start, sizeof start, mountpoint ? mountpoint : "/sys/fs/cgroup") < 0)
            return kerr_set(err, ENAMETOOLONG, "cannot use cgroup mount %s", mountpoint);
    } else {
        bool found;
        int r = locate_start_cgroup(start, sizeof start, &found, err);
        if (r < 0)
            return r;
        if (!found) {
            log_info("no cgroup2 hierarchy found: containers run without cgroups");
            return 0;
        }
    }
    struct statfs sfs;
    if (statfs(start, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
        log_warn("%s is not a cgroup2 file system: containers run without cgroups", start);
        return 0;
    }
    root->start_fd = open(start, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root->start_fd < 0)
        return kerr_set(err, errno, "cannot open cgroup %s", start);

    /* Boot mode owns the whole hierarchy; `keel run` may share it with other
     * keels, hence a subtree per process (and a sweep of dead ones). */
    if (boot_mode)
        snprintf(name, sizeof name, "keel");
    else {
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
            rnd = now_ns();
        snprintf(name, sizeof name, "keel.%d.%012llx", (int)getpid(), (unsigned long long)(rnd & 0xffffffffffffull));
    }
    _cleanup_close_ int parent_lock = -1;
    if (!boot_mode) {
        parent_lock = openat(root->start_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent_lock >= 0 && flock(parent_lock, LOCK_EX) < 0)
            log_warn("cannot lock cgroup %s: %s", start, strerror(errno));
        sweep_stale(root->start_fd);
    }
    if (mkdirat(root->start_fd, name, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        cgroup_release(root);
        return kerr_set(err, e, "cannot create cgroup %s/%s", start, name);
    }
    if (!boot_mode) {
        root->lock_fd = openat(root->start_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root->lock_fd < 0 || flock(root->lock_fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            cgroup_release(root);
            return kerr_set(err, e, "cannot lock cgroup %s/%s", start, name);
        }
    }
    int len = snprintf(root->keel_path, sizeof root->keel_path, "%s/%s", start, name);
    if (len < 0 || (size_t)len >= sizeof root->keel_path) {
        cgroup_release(root);
        return kerr_set(err, ENAMETOOLONG, "cannot create cgroup below %s", start);
    }
    _cleanup_close_ int top = openat(root->start_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (top < 0) {
        int e = errno;
        cgroup_release(root);
        return kerr_set(err, e, "cannot open cgroup %s/%s", start, name);
    }
    if (mkdirat(top, SUPERVISOR_LEAF, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        cgroup_release(root);
        return kerr_set(err, e, "cannot create cgroup %s/" SUPERVISOR_LEAF, root->keel_path);
    }
    _cleanup_close_ int sup_fd = openat(top, SUPERVISOR_LEAF, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (sup_fd < 0) {
        int e = errno;
        cgroup_release(root);
        return kerr_set(err, e, "cannot open cgroup %s/" SUPERVISOR_LEAF, root->keel_path);
    }
    /* The no-internal-processes rule: a cgroup that distributes controllers
     * to children holds no process itself, so keel lives in a leaf.  In
     * `keel run`, moving costs an RCU grace period twice (there and back,
     * ~10 ms each): skip it where the cgroup keel started in need not
     * distribute anything new — the root cgroup (exempt from the rule, and
     * without cgroup.events), or one that already delegates every
     * controller it has. */
    int r;
    if (boot_mode || start_needs_enabling(root->start_fd)) {
        r = move_self(sup_fd);
        if (r < 0)
            log_warn("cannot move keel into cgroup %s/" SUPERVISOR_LEAF ": %s", root->keel_path, strerror(-r));
        else
            root->moved = true;
    }
    /* The containers live one level down, in a cgroup of their own beside
     * keel's leaf: limits on it (pids.max, below) hold all of them together
     * and never keel. */
    if (mkdirat(top, CONTAINERS_DIR, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        cgroup_release(root);
        return kerr_set(err, e, "cannot create cgroup %s/" CONTAINERS_DIR, root->keel_path);
    }
    len = snprintf(root->ctr_path, sizeof root->ctr_path, "%s/" CONTAINERS_DIR, root->keel_path);
    root->keel_fd = openat(top, CONTAINERS_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (len < 0 || (size_t)len >= sizeof root->ctr_path || root->keel_fd < 0) {
        int e = root->keel_fd < 0 ? errno : ENAMETOOLONG;
        cgroup_release(root);
        return kerr_set(err, e, "cannot open cgroup %s/" CONTAINERS_DIR, root->keel_path);
    }

    /* Controllers flow down: enable them in the cgroup keel started in (a
     * no-op where they already are), in keel's subtree, then in the
     * containers' cgroup. */
    enable_controllers(root->start_fd, CG_ALL, start);
    unsigned top_ctrl = enable_controllers(top, CG_ALL, root->keel_path);
    root->controllers = top_ctrl ? enable_controllers(root->keel_fd, top_ctrl, root->ctr_path) : 0;
    root->available = true;

    /* Protection of the supervisor: memory reclaim and the OOM killer
     * reach keel last. */
    if (top_ctrl & CG_MEMORY) {
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)CGROUP_SUPERVISOR_MIN);
        if ((r = cg_write(root, top, "memory.min", v)) < 0 || (r = cg_write(root, sup_fd, "memory.min", v)) < 0)
            log_warn("cannot protect keel's memory with memory.min in %s: %s", root->keel_path, strerror(-r));
    }
    if (top_ctrl & CG_PIDS)
        reserve_pids(root);
    struct kerr e2 = { 0 };
    if (cgroup_set_oom_score_adj(0, -1000, &e2) < 0)
        log_warn("%s", e2.msg);
    return 0;
}

void cgroup_release(struct cgroup_root *root)
{
    if (!root)
        return;
    const char *name = strrchr(root->keel_path, '/');
    if (!root->boot_mode && !root->plain_dir && root->start_fd >= 0 && name &&
        (!root->moved || move_self(root->start_fd) == 0)) {
        int top = openat(root->start_fd, name + 1, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (top >= 0) {
            unlinkat(top, CONTAINERS_DIR, AT_REMOVEDIR);
            unlinkat(top, SUPERVISOR_LEAF, AT_REMOVEDIR);
            close(top);
        }
        unlinkat(root->start_fd, name + 1, AT_REMOVEDIR);
    }
    close_safe(root->keel_fd);
    close_safe(root->lock_fd);
    close_safe(root->start_fd);
    root->keel_fd = root->start_fd = -1;
    root->available = false;
}

/* Limits of an earlier instance that is still dying are put back to the
 * kernel's defaults before the new ones are written (errors ignored: a file
 * may not exist on this kernel). */
static void reset_limits(const struct cgroup_root *root, int fd)
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
    for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
        if (root->controllers & defaults[i].ctrl)
            cg_write(root, fd, defaults[i].file, defaults[i].value);
    _cleanup_free_ char *io = NULL;
    if (!(root->controllers & CG_IO) || cg_read(fd, "io.max", &io) < 0)
        return;
    const char *p = io, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        const char *s = line, *end = line + len, *f;
        size_t fl;
        if (next_field(&s, end, &f, &fl) && fl < 32) {
            char v[96];
            snprintf(v, sizeof v, "%.*s rbps=max wbps=max riops=max wiops=max", (int)fl, f);
            cg_write(root, fd, "io.max", v);
        }
    }
}

int cgroup_container_create(struct cgroup_root *root, const struct container_spec *c, int *dirfd,
                            struct kerr *err)
{
    *dirfd = -1;
    unsigned need = cgroup_spec_controllers(c);
    if (!root || !root->available) {
        if (need)
            return kerr_msg(err, EOPNOTSUPP,
                            "cannot apply the %s limits of container %s: no cgroup2 hierarchy is available",
                            controller_name(need & -need), c->name);
        return 0;
    }
    if (!valid_name(c->name) || strcmp(c->name, SUPERVISOR_LEAF) == 0)
        return kerr_msg(err, EINVAL, "cannot create a cgroup for container %s: the name is reserved or invalid",
                        c->name ? c->name : "(null)");
    unsigned missing = need & ~root->controllers;
    if (missing) {
        unsigned bit = missing & -missing;
        return kerr_msg(err, EOPNOTSUPP,
                        "cannot apply the %s limits of container %s: the cgroup controller %s is not available in %s",
                        controller_name(bit), c->name, controller_name(bit), root->ctr_path);
    }
    struct cgroup_writes w;
    int r = cgroup_plan_writes(c, root->controllers, NULL, &w, err);
    if (r < 0)
        return r;

    bool reused = false;
    if (mkdirat(root->keel_fd, c->name, 0755) < 0) {
        if (errno != EEXIST) {
            r = kerr_set(err, errno, "cannot create cgroup %s/%s", root->ctr_path, c->name);
            goto out;
        }
        /* Left by an earlier run of the container: remove it when empty;
         * when its last processes are still dying, kill them and reuse it. */
        if (unlinkat(root->keel_fd, c->name, AT_REMOVEDIR) == 0) {
            if (mkdirat(root->keel_fd, c->name, 0755) < 0) {
                r = kerr_set(err, errno, "cannot create cgroup %s/%s", root->ctr_path, c->name);
                goto out;
            }
        } else {
            reused = true;
            if ((r = cgroup_container_kill(root, c->name, err)) < 0)
                goto out;
        }
    }
    int fd = openat(root->keel_fd, c->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        r = kerr_set(err, errno, "cannot open cgroup %s/%s", root->ctr_path, c->name);
        goto out;
    }
    if (reused)
        reset_limits(root, fd);
    for (size_t i = 0; i < w.n; i++) {
        r = cg_write(root, fd, w.w[i].file, w.w[i].value);
        if (r < 0) {
            r = kerr_set(err, -r, "cannot write \"%s\" to %s/%s/%s", w.w[i].value, root->ctr_path, c->name,
                         w.w[i].file);
            close(fd);
            if (!reused)
                cgroup_container_remove(root, c->name, NULL);
            goto out;
        }
    }
    *dirfd = fd;
    r = 0;
out:
    cgroup_writes_free(&w);
    return r;
}

int cgroup_container_attach(struct cgroup_root *root, const char *name, pid_t pid, struct kerr *err)
{
    _cleanup_close_ int fd = open_container_dir(root, name);
    if (fd < 0)
        return kerr_set(err, -fd, "cannot open cgroup %s/%s", root->ctr_path, name);
    char v[24];
    snprintf(v, sizeof v, "%d", (int)pid);
    int r = cg_write(root, fd, "cgroup.procs", v);
    if (r < 0)
        return kerr_set(err, -r, "cannot move process %d into cgroup %s/%s", (int)pid, root->ctr_path, name);
    return 0;
}

/* SIGKILLs every pid listed in cgroup.procs; returns how many were listed. */
static int kill_listed(int fd)
{
    _cleanup_free_ char *buf = NULL;
    if (cg_read(fd, "cgroup.procs", &buf) < 0)
        return 0;
    int n = 0;
    const char *p = buf, *line;
    size_t len;
    while (next_line(&p, &line, &len)) {
        uint64_t pid;
        if (tok_u64(line, len, &pid) == 0 && pid > 0 && pid < INT32_MAX) {
            kill((pid_t)pid, SIGKILL);
            n++;
        }
    }
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cgroup_container_kill(struct cgroup_root *root, const char *name, struct kerr *err)
{
    if (!root || !root->available)
        return 0;
    _cleanup_close_ int fd = open_container_dir(root, name);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return kerr_set(err, -fd, "cannot open cgroup %s/%s", root->ctr_path, name);
    /* cgroup.kill (Linux 5.14) kills the whole subtree atomically: a process
     * forking in a loop cannot outrun it. */
    int r = cg_write(root, fd, "cgroup.kill", "1");
    if (r == 0)
        return 0;
    if (r != -ENOENT)
        return kerr_set(err, -r, "cannot kill cgroup %s/%s", root->ctr_path, name);

    /* Fallback: freeze the cgroup so nothing forks any more, SIGKILL what is
     * listed (fatal signals reach frozen tasks in cgroup v2), thaw.  Bounded:
     * at most a few rounds of up to 100 ms each, on old kernels only. */
    for (int round = 0; round < 5; round++) {
        bool froze = cg_write(root, fd, "cgroup.freeze", "1") == 0;
        for (int i = 0; froze && i < 100; i++) {
            struct cgroup_events ev = { 0 };
            _cleanup_free_ char *buf = NULL;
            if (cg_read(fd, "cgroup.events", &buf) < 0 || cgroup_parse_cgroup_events(buf, &ev) < 0 ||
                ev.frozen || !ev.populated)
                break;
            sleep_ms(1);
        }
        int n = kill_listed(fd);
        if (froze)
            cg_write(root, fd, "cgroup.freeze", "0");
        if (n == 0)
            return 0;
        sleep_ms(5);
    }
    _cleanup_free_ char *left = NULL;
    if (cg_read(fd, "cgroup.procs", &left) == 0 && left[0])
        return kerr_msg(err, EBUSY, "cannot kill every process of cgroup %s/%s: some keep appearing",
                        root->ctr_path, name);
    return 0;
}

int cgroup_container_remove(struct cgroup_root *root, const char *name, struct kerr *err)
{
    if (!root || !root->available)
        return 0;
    if (!valid_name(name))
        return kerr_msg(err, EINVAL, "cannot remove cgroup of container %s: invalid name", name ? name : "(null)");
    if (root->plain_dir) {
        /* Tests: the files cgroupfs would have shown are real files here. */
        int fd = openat(root->keel_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (fd >= 0 && !d)
            close(fd);
        for (struct dirent *de; d && (de = readdir(d));)
            if (de->d_type == DT_REG)
                unlinkat(dirfd(d), de->d_name, 0);
        if (d)
            closedir(d);
    }
    if (unlinkat(root->keel_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return kerr_set(err, errno, "cannot remove cgroup %s/%s", root->ctr_path, name);
    return 0;
}

int cgroup_container_events_fd(struct cgroup_root *root, const char *name, const char *file,
                               struct kerr *err)
{
    if (!root || !root->available)
        return kerr_msg(err, ENOENT, "cannot watch %s of container %s: no cgroups", file, name);
    if (!valid_name(name) || !valid_name(file))
        return kerr_msg(err, EINVAL, "cannot watch %s of container %s: invalid name", file, name);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", name, file);
    int fd = openat(root->keel_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return kerr_set(err, errno, "cannot open %s/%s", root->ctr_path, path);
    return fd;
}

int cgroup_container_events(struct cgroup_root *root, const char *name, struct cgroup_events *ev,
                            struct kerr *err)
{
    memset(ev, 0, sizeof *ev);
    if (!root || !root->available)
        return kerr_msg(err, ENOENT, "cannot read events of container %s: no cgroups", name);
    _cleanup_close_ int fd = open_container_dir(root, name);
    if (fd < 0)
        return kerr_set(err, -fd, "cannot open cgroup %s/%s", root->ctr_path, name);
    _cleanup_free_ char *mem = NULL, *cg = NULL;
    int r = cg_read(fd, "memory.events", &mem);
    if (r == 0 && cgroup_parse_memory_events(mem, ev) < 0)
        return kerr_msg(err, EINVAL, "cannot parse %s/%s/memory.events", root->ctr_path, name);
    if (r < 0 && r != -ENOENT)
        return kerr_set(err, -r, "cannot read %s/%s/memory.events", root->ctr_path, name);
    r = cg_read(fd, "cgroup.events", &cg);
    if (r < 0)
        return kerr_set(err, -r, "cannot read %s/%s/cgroup.events", root->ctr_path, name);
    if (cgroup_parse_cgroup_events(cg, ev) < 0)
        return kerr_msg(err, EINVAL, "cannot parse %s/%s/cgroup.events", root->ctr_path, name);
    return 0;
}

/* Reads `file` of fd into a parser; a missing file is not an error. */
static int stat_file(int fd, const char *file, char **buf)
{
    int r = cg_read(fd, file, buf);
    return r == -ENOENT || r == -EOPNOTSUPP ? 0 : r;
}

int cgroup_container_stats(struct cgroup_root *root, const char *name, struct cgroup_stats *st,
                           struct kerr *err)
{
    memset(st, 0, sizeof *st);
    if (!root || !root->available)
        return kerr_msg(err, ENOENT, "cannot read statistics of container %s: no cgroups", name);
    _cleanup_close_ int fd = open_container_dir(root, name);
    if (fd < 0)
        return kerr_set(err, -fd, "cannot open cgroup %s/%s", root->ctr_path, name);

    static const char *const files[] = { "cpu.stat", "memory.current", "memory.peak", "pids.current",
                                         "io.stat", "cpu.pressure", "memory.pressure", "io.pressure" };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *buf = NULL;
        int r = stat_file(fd, files[i], &buf);
        if (r < 0)
            return kerr_set(err, -r, "cannot read %s/%s/%s", root->ctr_path, name, files[i]);
        if (!buf)
            continue;
        switch (i) {
        case 0: r = cgroup_parse_cpu_stat(buf, st); break;
        case 1: r = cgroup_parse_u64(buf, &st->memory_current); st->has_memory = r == 0; break;
        case 2: r = cgroup_parse_u64(buf, &st->memory_peak); st->has_memory_peak = r == 0; break;
        case 3: r = cgroup_parse_u64(buf, &st->pids_current); st->has_pids = r == 0; break;
        case 4: r = cgroup_parse_io_stat(buf, st); break;
        case 5: r = cgroup_parse_pressure(buf, &st->cpu_some, &st->cpu_full); st->has_psi = r == 0; break;
        case 6: r = cgroup_parse_pressure(buf, &st->memory_some, &st->memory_full); break;
        case 7: r = cgroup_parse_pressure(buf, &st->io_some, &st->io_full); break;
        }
        if (r < 0)
            return kerr_msg(err, EINVAL, "cannot parse %s/%s/%s", root->ctr_path, name, files[i]);
    }
    return 0;
}
