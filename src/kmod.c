/* kmod.c — modules.dep parsing, load planning and finit_module(2), see kmod.h. */
#include "keel/kmod.h"
#include "keel/log.h"
#include "keel/sys.h"
#include "keel/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/module.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

#define KMOD_FILE_MAX (64u << 20)   /* modules.dep of a full distribution kernel is ~1 MiB */

struct kmod_entry {
    const char *path;               /* relative path, points into kmod_dep.text */
    char name[KMOD_NAME_MAX];       /* normalized */
    const char **dep_paths;         /* as written, point into text */
    size_t *deps;                   /* indices, SIZE_MAX when the path has no entry */
    size_t n_deps;
};

struct kmod_dep {
    char *text;                     /* owned, tokenized copy of the input */
    struct kmod_entry *v;
    size_t n;
    /* Open-addressing hash tables of entry indices (SIZE_MAX = empty). */
    size_t *by_path, *by_name;
    size_t cap;
};

static const char *const compressed_ext[] = { ".ko.xz", ".ko.zst", ".ko.gz" };

int kmod_name_normalize(const char *s, char *out, size_t n)
{
    const char *base = strrchr(s, '/');
    base = base ? base + 1 : s;
    size_t len = strlen(base);
    if (len >= 3 && strcmp(base + len - 3, ".ko") == 0)
        len -= 3;
    else
        for (size_t i = 0; i < ARRAY_SIZE(compressed_ext); i++) {
            size_t el = strlen(compressed_ext[i]);
            if (len >= el && strcmp(base + len - el, compressed_ext[i]) == 0) {
                len -= el;
                break;
            }
        }
    if (len == 0)
        return -EINVAL;
    if (len >= n)
        return -ENAMETOOLONG;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(base[i] == '-' ? '_' : base[i]);
    out[len] = '\0';
    return 0;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static size_t table_find(const struct kmod_dep *d, const size_t *table, const char *key, bool by_name)
{
    if (!d->cap)
        return SIZE_MAX;
    for (size_t i = hash_str(key) & (d->cap - 1);; i = (i + 1) & (d->cap - 1)) {
        size_t idx = table[i];
        if (idx == SIZE_MAX)
            return SIZE_MAX;
        const char *k = by_name ? d->v[idx].name : d->v[idx].path;
        if (strcmp(k, key) == 0)
            return idx;
    }
}

/* Inserts idx unless the key is present; returns the index already there, or idx. */
static size_t table_insert(struct kmod_dep *d, size_t *table, size_t idx, bool by_name)
{
    const char *key = by_name ? d->v[idx].name : d->v[idx].path;
    for (size_t i = hash_str(key) & (d->cap - 1);; i = (i + 1) & (d->cap - 1)) {
        size_t cur = table[i];
        if (cur == SIZE_MAX) {
            table[i] = idx;
            return idx;
        }
        /* The table holds SIZE_MAX or the index of an entry already parsed (its path
         * set); the analyzer does not follow memset(0xff) and thinks it may be NULL.
         * NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
        if (strcmp(by_name ? d->v[cur].name : d->v[cur].path, key) == 0)
            return cur;
    }
}

void kmod_dep_free(struct kmod_dep *d)
{
    if (!d)
        return;
    for (size_t i = 0; d->v && i < d->n; i++) {   /* v is NULL in a half-built one */
        free(d->v[i].dep_paths);
        free(d->v[i].deps);
    }
    free(d->v);
    free(d->by_path);
    free(d->by_name);
    free(d->text);
    free(d);
}

size_t kmod_dep_count(const struct kmod_dep *d)
{
    return d ? d->n : 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Splits `line` (modified in place) into entry e. */
static int parse_line(char *line, int lineno, struct kmod_entry *e, struct kerr *err)
{
    char *colon = strchr(line, ':');
    if (!colon)
        return kerr_msg(err, EINVAL, "modules.dep:%d: missing ':' after the module path", lineno);
    *colon = '\0';
    char *path = line;
    while (is_blank(*path))
        path++;
    char *end = colon;
    while (end > path && is_blank(end[-1]))
        *--end = '\0';
    if (!*path)
        return kerr_msg(err, EINVAL, "modules.dep:%d: empty module path", lineno);
    for (char *p = path; *p; p++)
        if (is_blank(*p))
            return kerr_msg(err, EINVAL, "modules.dep:%d: blank inside the module path", lineno);
    int r = kmod_name_normalize(path, e->name, sizeof e->name);
    if (r < 0)
        return kerr_msg(err, -r, "modules.dep:%d: bad module name in '%s'", lineno, path);
    e->path = path;

    /* Count then collect the dependencies. */
    size_t n = 0;
    for (char *p = colon + 1; *p;) {
        while (is_blank(*p))
            p++;
        if (!*p)
            break;
        n++;
        while (*p && !is_blank(*p))
            p++;
    }
    if (n) {
        e->dep_paths = calloc(n, sizeof *e->dep_paths);
        e->deps = calloc(n, sizeof *e->deps);
        if (!e->dep_paths || !e->deps)
            return kerr_set(err, ENOMEM, "cannot parse modules.dep");
    }
    for (char *p = colon + 1; *p;) {
        while (is_blank(*p))
            *p++ = '\0';
        if (!*p)
            break;
        e->dep_paths[e->n_deps++] = p;
        while (*p && !is_blank(*p))
            p++;
    }
    return 0;
}

int kmod_dep_parse(const char *buf, struct kmod_dep **out, struct kerr *err)
{
    *out = NULL;
    struct kmod_dep *d = calloc(1, sizeof *d);
    if (!d || !(d->text = strdup(buf))) {
        free(d);
        return kerr_set(err, ENOMEM, "cannot parse modules.dep");
    }
    size_t lines = 1;
    for (const char *p = d->text; *p; p++)
        lines += *p == '\n';
    d->v = calloc(lines, sizeof *d->v);
    if (!d->v) {
        kmod_dep_free(d);
        return kerr_set(err, ENOMEM, "cannot parse modules.dep");
    }
    int lineno = 0;
    for (char *line = d->text; line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        char *p = line;
        while (is_blank(*p))
            p++;
        if (*p && *p != '#') {
            int r = parse_line(line, lineno, &d->v[d->n], err);
            d->n++;   /* counted even on failure so kmod_dep_free releases it */
            if (r < 0) {
                kmod_dep_free(d);
                return r;
            }
        }
        line = nl ? nl + 1 : NULL;
    }

    d->cap = 16;
    while (d->cap < d->n * 2)
        d->cap *= 2;
    d->by_path = malloc(d->cap * sizeof *d->by_path);
    d->by_name = malloc(d->cap * sizeof *d->by_name);
    if (!d->by_path || !d->by_name) {
        kmod_dep_free(d);
        return kerr_set(err, ENOMEM, "cannot parse modules.dep");
    }
    memset(d->by_path, 0xff, d->cap * sizeof *d->by_path);
    memset(d->by_name, 0xff, d->cap * sizeof *d->by_name);
    for (size_t i = 0; i < d->n; i++) {
        if (table_insert(d, d->by_path, i, false) != i) {
            int r = kerr_msg(err, EINVAL, "modules.dep: duplicate entry for %s", d->v[i].path);
            kmod_dep_free(d);
            return r;
        }
        table_insert(d, d->by_name, i, true);   /* the first entry of a name wins, as in depmod */
    }
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < d->v[i].n_deps; j++)
            d->v[i].deps[j] = table_find(d, d->by_path, d->v[i].dep_paths[j], false);
    *out = d;
    return 0;
}

/* Iterative depth-first post-order walk from `root`, so a long chain in a
 * hostile modules.dep cannot exhaust the stack.  mark: 0 unseen, 1 on the
 * current path, 2 done.  Emits each finished entry through `emit`. */
struct walk_frame { size_t idx, next; };

static int walk(const struct kmod_dep *d, size_t root, unsigned char *mark, struct walk_frame *stack,
                const char **order, size_t max, size_t *count, struct kerr *err)
{
    if (mark[root] == 2)
        return 0;
    size_t sp = 0;
    stack[sp++] = (struct walk_frame){ root, 0 };
    mark[root] = 1;
    while (sp > 0) {
        struct walk_frame *f = &stack[sp - 1];
        const struct kmod_entry *e = &d->v[f->idx];
        if (f->next < e->n_deps) {
            size_t j = f->next++;
            size_t dep = e->deps[j];
            if (dep == SIZE_MAX)
                return kerr_msg(err, ENOENT, "module %s needs %s, which has no entry in modules.dep", e->name,
                                e->dep_paths[j]);
            if (mark[dep] == 1)
                return kerr_msg(err, ELOOP, "module %s is part of a dependency cycle through %s", d->v[root].name,
                                d->v[dep].name);
            if (mark[dep] == 0) {
                mark[dep] = 1;
                stack[sp++] = (struct walk_frame){ dep, 0 };   /* each entry is on the stack at most once */
            }
            continue;
        }
        mark[f->idx] = 2;
        if (*count >= max)
            return kerr_msg(err, ENOBUFS, "module %s has too many dependencies", d->v[root].name);
        order[(*count)++] = e->path;
        sp--;
    }
    return 0;
}

int kmod_dep_resolve(const struct kmod_dep *d, const char *name, const char **order, size_t max,
                     size_t *count, struct kerr *err)
{
    *count = 0;
    char norm[KMOD_NAME_MAX];
    if (kmod_name_normalize(name, norm, sizeof norm) < 0)
        return kerr_msg(err, EINVAL, "invalid module name '%s'", name);
    size_t idx = table_find(d, d->by_name, norm, true);
    if (idx == SIZE_MAX)
        return kerr_msg(err, ENOENT, "module %s is not in modules.dep", name);
    _cleanup_free_ unsigned char *mark = calloc(d->n, 1);
    _cleanup_free_ struct walk_frame *stack = calloc(d->n, sizeof *stack);
    if (!mark || !stack)
        return kerr_set(err, ENOMEM, "cannot resolve module %s", name);
    return walk(d, idx, mark, stack, order, max, count, err);
}

/* The normalized module name of the first field of the line at *pos (a name
 * in /proc/modules, a path in modules.builtin) into norm; advances *pos to the
 * next line (NULL after the last).  False when the line names no module. */
static bool next_line_module(const char **pos, char norm[KMOD_NAME_MAX])
{
    const char *line = *pos;
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    *pos = nl ? nl + 1 : NULL;
    size_t flen = 0;
    while (flen < len && !is_blank(line[flen]))
        flen++;
    char field[512];
    if (flen == 0 || flen >= sizeof field)
        return false;
    memcpy(field, line, flen);
    field[flen] = '\0';
    return kmod_name_normalize(field, norm, KMOD_NAME_MAX) == 0;
}

/* True when a line of `text` names the (normalized) module `name`. */
static bool text_has_module(const char *text, const char *name)
{
    char norm[KMOD_NAME_MAX];
    for (const char *pos = text; pos && *pos;)
        if (next_line_module(&pos, norm) && strcmp(norm, name) == 0)
            return true;
    return false;
}

/* Marks done every entry of d whose module is named by a line of `text`: one
 * pass over the text with hash lookups, so a full modules.builtin costs little. */
static void mark_present(const struct kmod_dep *d, const char *text, unsigned char *mark)
{
    char norm[KMOD_NAME_MAX];
    for (const char *pos = text; pos && *pos;) {
        if (!next_line_module(&pos, norm))
            continue;
        size_t idx = table_find(d, d->by_name, norm, true);
        if (idx != SIZE_MAX)
            mark[idx] = 2;
    }
}

/* The entry of d for the module `name` names: 1 and *idx; 0 when it is
 * loaded or built in already (nothing to do); <0 for a name that is not a
 * module's or a module modules.dep does not know. */
static int wanted_index(const struct kmod_dep *d, const char *name, const char *loaded, const char *builtin,
                        size_t *idx, struct kerr *err)
{
    char norm[KMOD_NAME_MAX];
    if (kmod_name_normalize(name, norm, sizeof norm) < 0 || strchr(name, '/'))
        return kerr_msg(err, EINVAL, "invalid module name '%s'", name);
    if (text_has_module(loaded, norm) || text_has_module(builtin, norm))
        return 0;
    *idx = table_find(d, d->by_name, norm, true);
    if (*idx == SIZE_MAX)
        return kerr_msg(err, ENOENT, "cannot load module %s: not in modules.dep nor built in", name);
    return 1;
}

int kmod_plan(const struct kmod_dep *d, char *const *names, const char *loaded, const char *builtin,
              const char ***order, size_t *count, struct kerr *err)
{
    *order = NULL;
    *count = 0;
    size_t n = d->n;
    _cleanup_free_ const char **v = calloc(n ? n : 1, sizeof *v);
    _cleanup_free_ unsigned char *mark = calloc(n ? n : 1, 1);
    _cleanup_free_ struct walk_frame *stack = calloc(n ? n : 1, sizeof *stack);
    if (!v || !mark || !stack)
        return kerr_set(err, ENOMEM, "cannot plan module loading");

    /* What is present counts as done before the walk starts: its own
     * dependencies are present too (the kernel loaded or built them). */
    mark_present(d, loaded, mark);
    mark_present(d, builtin, mark);

    size_t cnt = 0;
    for (size_t k = 0; names && names[k]; k++) {
        size_t idx;
        int r = wanted_index(d, names[k], loaded, builtin, &idx, err);
        if (r < 0)
            return r;
        if (r == 0)
            continue;
        /* A fresh "on the path" state per root; finished entries stay done. */
        for (size_t i = 0; i < n; i++)
            if (mark[i] == 1)
                mark[i] = 0;
        if (walk(d, idx, mark, stack, v, n, &cnt, err) < 0)
            return kerr_prefix(err, "cannot load module %s", names[k]);
    }
    *order = TAKE_PTR(v);
    *count = cnt;
    return 0;
}

/* Union-find over name indices. */
static size_t uf_root(size_t *parent, size_t k)
{
    while (parent[k] != k)
        k = parent[k] = parent[parent[k]];
    return k;
}

int kmod_plan_bins(const struct kmod_dep *d, char *const *names, const char *loaded, const char *builtin,
                   size_t nbins, int *bin, struct kerr *err)
{
    size_t nn = strv_len((char **)names), n = d->n;
    if (nbins == 0)
        nbins = 1;
    _cleanup_free_ size_t *owner = malloc((n ? n : 1) * sizeof *owner);
    _cleanup_free_ size_t *parent = malloc((nn ? nn : 1) * sizeof *parent);
    _cleanup_free_ size_t *size = calloc(nn ? nn : 1, sizeof *size);
    _cleanup_free_ size_t *load = calloc(nbins, sizeof *load);
    _cleanup_free_ unsigned char *base = calloc(n ? n : 1, 1);
    _cleanup_free_ unsigned char *mark = calloc(n ? n : 1, 1);
    _cleanup_free_ struct walk_frame *stack = calloc(n ? n : 1, sizeof *stack);
    _cleanup_free_ const char **order = calloc(n ? n : 1, sizeof *order);
    if (!owner || !parent || !size || !load || !base || !mark || !stack || !order)
        return kerr_set(err, ENOMEM, "cannot plan module loading");
    mark_present(d, loaded, base);
    mark_present(d, builtin, base);
    for (size_t i = 0; i < n; i++)
        owner[i] = SIZE_MAX;
    for (size_t k = 0; k < nn; k++) {
        parent[k] = k;
        bin[k] = -1;
    }
    /* Each name's own closure (fresh marks: what another name loads counts),
     * joined with every name that loads one of the same modules. */
    for (size_t k = 0; k < nn; k++) {
        size_t idx;
        int r = wanted_index(d, names[k], loaded, builtin, &idx, err);
        if (r < 0)
            return r;
        if (r == 0)
            continue;
        memcpy(mark, base, n);
        size_t cnt = 0;
        if (walk(d, idx, mark, stack, order, n, &cnt, err) < 0)
            return kerr_prefix(err, "cannot load module %s", names[k]);
        for (size_t i = 0; i < cnt; i++) {
            size_t e = table_find(d, d->by_path, order[i], false);
            if (owner[e] == SIZE_MAX)
                owner[e] = k;
            else
                parent[uf_root(parent, k)] = uf_root(parent, owner[e]);
        }
        bin[k] = 0;   /* has something to load; its group is decided below */
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        if (owner[i] != SIZE_MAX) {
            size[uf_root(parent, owner[i])]++;
            total++;
        }
    /* Largest group first, each to the least loaded bin. */
    _cleanup_free_ int *group_bin = malloc((nn ? nn : 1) * sizeof *group_bin);
    if (!group_bin)
        return kerr_set(err, ENOMEM, "cannot plan module loading");
    for (size_t k = 0; k < nn; k++)
        group_bin[k] = -1;
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t k = 0; k < nn; k++)
            if (uf_root(parent, k) == k && size[k] && group_bin[k] < 0 && (best == SIZE_MAX || size[k] > size[best]))
                best = k;
        if (best == SIZE_MAX)
            break;
        size_t b = 0;
        for (size_t i = 1; i < nbins; i++)
            if (load[i] < load[b])
                b = i;
        group_bin[best] = (int)b;
        load[b] += size[best];
    }
    for (size_t k = 0; k < nn; k++)
        if (bin[k] == 0)
            bin[k] = group_bin[uf_root(parent, k)];
    return (int)total;
}

/* The module directory of the running kernel, or `moddir`. */
static int moddir_name(const char *moddir, char *dir, size_t n, struct kerr *err)
{
    if (moddir) {
        if (str_copy(dir, n, moddir) < 0)
            return kerr_msg(err, ENAMETOOLONG, "module directory name too long");
        return 0;
    }
    struct utsname u;
    if (uname(&u) < 0)
        return kerr_set(err, errno, "cannot find the kernel release");
    snprintf(dir, n, "/lib/modules/%s", u.release);
    return 0;
}

/* modules.dep (parsed), modules.builtin and /proc/modules of `dir`. */
static int read_state(int dirfd, const char *dir, struct kmod_dep **d, char **builtin, char **loaded,
                      struct kerr *err)
{
    _cleanup_free_ char *deptext = NULL;
    int r = read_file_at(dirfd, "modules.dep", KMOD_FILE_MAX, &deptext, NULL);
    if (r < 0)
        return kerr_set(err, -r, "cannot load modules: cannot read %s/modules.dep", dir);
    r = read_file_at(dirfd, "modules.builtin", KMOD_FILE_MAX, builtin, NULL);
    if (r < 0 && r != -ENOENT)
        return kerr_set(err, -r, "cannot load modules: cannot read %s/modules.builtin", dir);
    r = read_file_at(AT_FDCWD, "/proc/modules", KMOD_FILE_MAX, loaded, NULL);
    if (r < 0 && r != -ENOENT)   /* no /proc/modules: a kernel without module support, or /proc missing */
        return kerr_set(err, -r, "cannot load modules: cannot read /proc/modules");
    if (kmod_dep_parse(deptext, d, err) < 0)
        return kerr_prefix(err, "cannot load modules from %s", dir);
    return 0;
}

/* The module directory (moddir, or the running kernel's), opened into
 * *dirfd, and its state (read_state). */
static int open_state(const char *moddir, char *dir, size_t n, int *dirfd, struct kmod_dep **d, char **builtin,
                      char **loaded, struct kerr *err)
{
    int r = moddir_name(moddir, dir, n, err);
    if (r < 0)
        return r;
    *dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0)
        return kerr_set(err, errno, "cannot load modules: cannot open %s", dir);
    r = read_state(*dirfd, dir, d, builtin, loaded, err);
    if (r >= 0 && !*d)   /* kmod_dep_parse's contract, stated for the callers' analysis */
        return kerr_msg(err, EIO, "cannot load modules: no index from %s/modules.dep", dir);
    return r;
}

int kmod_bins(char *const *names, size_t nbins, int *bin, struct kerr *err)
{
    char dir[512];
    _cleanup_close_ int dirfd = -1;
    _cleanup_free_ char *builtin = NULL, *loaded = NULL;
    struct kmod_dep *d = NULL;
    int r = open_state(NULL, dir, sizeof dir, &dirfd, &d, &builtin, &loaded, err);
    if (r < 0)
        return r;
    r = kmod_plan_bins(d, names, loaded, builtin, nbins, bin, err);
    kmod_dep_free(d);
    return r;
}

pid_t kmod_load_async(char *const *names, int *report, struct kerr *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return kerr_set(err, errno, "cannot load modules in the background: cannot create a pipe");
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return kerr_set(err, e, "cannot load modules in the background: cannot fork");
    }
    if (pid == 0) {
        /* PID 1's blocked signals would survive into the child: a shutdown's
         * SIGTERM must end it like any other process. */
        sigset_t none;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        if (prctl(PR_SET_NAME, "keel-modules", 0, 0, 0) < 0)
            log_debug("cannot name the module loader: %s", strerror(errno));
        close(p[0]);
        struct kerr e = { 0 };
        int r = kmod_load(NULL, names, &e);
        char line[KERR_MSG_MAX + 32];
        int len = r < 0 ? snprintf(line, sizeof line, "%d %s", r, e.msg) : snprintf(line, sizeof line, "%d", r);
        /* One write below PIPE_BUF: atomic, and the pipe is empty. */
        (void)!write(p[1], line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
        _exit(r < 0 ? 1 : 0);
    }
    close(p[1]);
    *report = p[0];
    return pid;
}

int kmod_load_async_result(int report, int status, struct kerr *err)
{
    char line[KERR_MSG_MAX + 32];
    ssize_t n = read(report, line, sizeof line - 1);
    if (n <= 0) {
        if (WIFSIGNALED(status))
            return kerr_msg(err, EINTR, "cannot load modules: the loader was killed by signal %d",
                            WTERMSIG(status));
        return kerr_msg(err, EIO, "cannot load modules: the loader reported nothing (exit status %d)",
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    line[n] = '\0';
    char *end = NULL;
    long r = strtol(line, &end, 10);
    if (end == line)
        return kerr_msg(err, EIO, "cannot load modules: the loader's report is garbled");
    if (r >= 0)
        return (int)r;
    if (r < -4095)
        r = -EIO;
    return kerr_msg(err, (int)-r, "%s", *end == ' ' ? end + 1 : "cannot load modules");
}

static const char *compression_of(const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < ARRAY_SIZE(compressed_ext); i++) {
        size_t el = strlen(compressed_ext[i]);
        if (len > el && strcmp(path + len - el, compressed_ext[i]) == 0)
            return compressed_ext[i] + 4;   /* "xz", "zst", "gz" */
    }
    return NULL;
}

static int load_one(int dirfd, const char *dir, const char *path, struct kerr *err)
{
    char name[KMOD_NAME_MAX];
    if (kmod_name_normalize(path, name, sizeof name) < 0)
        return kerr_msg(err, EINVAL, "invalid module path %s", path);
    _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return kerr_set(err, errno, "cannot load module %s: cannot open %s/%s", name, dir, path);
    const char *comp = compression_of(path);
    unsigned flags = comp ? MODULE_INIT_COMPRESSED_FILE : 0;
    if (sys_finit_module(fd, "", (int)flags) == 0)
        return 1;
    int e = errno;
    if (e == EEXIST)
        return 0;   /* raced with udev or a module loaded as a dependency meanwhile */
    if (comp && (e == EOPNOTSUPP || e == EINVAL))
        return kerr_msg(err, e,
                        "cannot load module %s from %s/%s: the kernel cannot decompress .%s modules itself "
                        "(needs CONFIG_MODULE_DECOMPRESS); ship it uncompressed",
                        name, dir, path, comp);
    if (e == ENOEXEC)
        return kerr_msg(err, e, "cannot load module %s from %s/%s: not a module for this kernel (%s)", name, dir,
                        path, strerror(e));
    return kerr_set(err, e, "cannot load module %s from %s/%s", name, dir, path);
}

/* Splits the line at p (up to its newline) into words; returns the next line. */
static const char *line_words(const char *p, char words[][KMOD_NAME_MAX * 2], size_t max, size_t *n)
{
    *n = 0;
    while (*p && *p != '\n') {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strcspn(p, " \t\n");
        if (len && *n < max && len < KMOD_NAME_MAX * 2) {
            memcpy(words[*n], p, len);
            words[(*n)++][len] = '\0';
        }
        p += len;
    }
    return *p ? p + 1 : p;
}

static int push_unique(char ***out, const char *name)
{
    char norm[KMOD_NAME_MAX];
    if (kmod_name_normalize(name, norm, sizeof norm) < 0)
        return 0;
    return strv_contains(*out, norm) ? 0 : strv_push(out, norm);
}

int kmod_softdeps(const char *softdep, const char *alias, const char *name, char ***out)
{
    char want[KMOD_NAME_MAX];
    if (!softdep || kmod_name_normalize(name, want, sizeof want) < 0)
        return 0;
    char w[64][KMOD_NAME_MAX * 2];
    size_t n;
    for (const char *p = softdep; *p;) {
        p = line_words(p, w, 64, &n);
        char norm[KMOD_NAME_MAX];
        if (n < 3 || strcmp(w[0], "softdep") != 0 || kmod_name_normalize(w[1], norm, sizeof norm) < 0 ||
            strcmp(norm, want) != 0)
            continue;
        bool pre = false;
        for (size_t i = 2; i < n; i++) {
            if (strcmp(w[i], "pre:") == 0 || strcmp(w[i], "post:") == 0) {
                pre = w[i][1] == 'r';
                continue;
            }
            if (!pre)
                continue;
            /* An alias names the modules that provide it; a plain name is itself. */
            bool aliased = false;
            char a[4][KMOD_NAME_MAX * 2];
            size_t an;
            for (const char *q = alias ? alias : ""; *q;) {
                q = line_words(q, a, 4, &an);
                if (an == 3 && strcmp(a[0], "alias") == 0 && strcmp(a[1], w[i]) == 0) {
                    aliased = true;
                    if (push_unique(out, a[2]) < 0)
                        return -ENOMEM;
                }
            }
            if (!aliased && push_unique(out, w[i]) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

int kmod_load(const char *moddir, char *const *names, struct kerr *err)
{
    if (!names || !names[0])
        return 0;
    char dir[512];
    _cleanup_close_ int dirfd = -1;
    _cleanup_free_ char *builtin = NULL, *loaded = NULL;
    struct kmod_dep *d = NULL;
    int r = open_state(moddir, dir, sizeof dir, &dirfd, &d, &builtin, &loaded, err);
    if (r < 0)
        return r;
    const char **order = NULL;
    size_t count = 0;
    r = kmod_plan(d, names, loaded, builtin, &order, &count, err);
    int done = 0;
    /* Soft dependencies first, as modprobe does: best effort (one of several
     * providers of an alias may not fit this machine, crc32c_intel say). */
    _cleanup_free_ char *softdep = NULL, *alias = NULL;
    if (r >= 0 && read_file_at(dirfd, "modules.softdep", KMOD_FILE_MAX, &softdep, NULL) == 0) {
        if (read_file_at(dirfd, "modules.alias", KMOD_FILE_MAX, &alias, NULL) < 0)
            alias = NULL;
        _cleanup_strv_ char **soft = NULL;
        for (size_t i = 0; i < count; i++)
            if (kmod_softdeps(softdep, alias, order[i], &soft) < 0) {
                r = kerr_set(err, ENOMEM, "cannot plan the soft dependencies of %s", order[i]);
                break;
            }
        for (size_t i = 0; r >= 0 && soft && soft[i]; i++) {
            char *one[] = { soft[i], NULL };
            const char **sorder = NULL;
            size_t scount = 0;
            struct kerr serr = { 0 };
            if (kmod_plan(d, one, loaded, builtin, &sorder, &scount, &serr) < 0) {
                free(sorder);
                continue;   /* not in this image: the module may not need it */
            }
            for (size_t k = 0; k < scount; k++) {
                int sr = load_one(dirfd, dir, sorder[k], &serr);
                if (sr > 0)
                    done++;
                else if (sr < 0)
                    log_debug("soft dependency %s not loaded: %s", sorder[k], serr.msg);
            }
            free(sorder);
        }
    }
    for (size_t i = 0; r >= 0 && i < count; i++) {
        r = load_one(dirfd, dir, order[i], err);
        if (r > 0) {
            log_debug("loaded module %s", order[i]);
            done++;
        }
    }
    free(order);
    kmod_dep_free(d);
    return r < 0 ? r : done;
}
