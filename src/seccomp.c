/* seccomp.c — the containers' system call filter (see seccomp.h and
 * docs/security-seccomp.md).
 *
 * Why a deny list with default "allow" and not Docker's allow list: an
 * appliance runs arbitrary programs, and an allow list breaks them each time
 * libc starts using a system call the list does not know yet (clone3 and
 * faccessat2 broke Docker users for years).  The list below names every
 * call Docker's default profile refuses on x86 (by leaving it out of its
 * allow list), grouped by the capability that lets Docker allow it, plus
 * io_uring, which Docker has refused since 25.0.  The price: a system call
 * added to the kernel later is allowed until it is added here.
 */
#include "keel/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "keel/util.h"

#define NO_CAP (-1)

/* A call refused with EPERM unless the container holds cap1 or cap2. */
struct deny {
    const char *name;
    int cap1, cap2;
};

static const struct deny deny_table[] = {
    /* Refused whatever the capabilities (Docker allows them never). */
    { "kexec_load", NO_CAP, NO_CAP },          /* replace the running kernel */
    { "kexec_file_load", NO_CAP, NO_CAP },
    { "create_module", NO_CAP, NO_CAP },       /* obsolete module calls */
    { "get_kernel_syms", NO_CAP, NO_CAP },
    { "query_module", NO_CAP, NO_CAP },
    { "add_key", NO_CAP, NO_CAP },             /* the keyring is not namespaced */
    { "keyctl", NO_CAP, NO_CAP },
    { "request_key", NO_CAP, NO_CAP },
    { "userfaultfd", NO_CAP, NO_CAP },         /* a staple of kernel exploits */
    { "nfsservctl", NO_CAP, NO_CAP },          /* obsolete */
    { "uselib", NO_CAP, NO_CAP },
    { "ustat", NO_CAP, NO_CAP },
    { "sysfs", NO_CAP, NO_CAP },
    { "_sysctl", NO_CAP, NO_CAP },
    { "vm86", NO_CAP, NO_CAP },                /* i386 only */
    { "vm86old", NO_CAP, NO_CAP },
    { "swapon", NO_CAP, NO_CAP },              /* host swap configuration */
    { "swapoff", NO_CAP, NO_CAP },
    { "move_pages", NO_CAP, NO_CAP },          /* NUMA page moves of other processes */
    { "migrate_pages", NO_CAP, NO_CAP },
    { "set_mempolicy_home_node", NO_CAP, NO_CAP },
    { "io_uring_setup", NO_CAP, NO_CAP },      /* large attack surface, bypasses seccomp per op */
    { "io_uring_enter", NO_CAP, NO_CAP },
    { "io_uring_register", NO_CAP, NO_CAP },

    /* CAP_SYS_ADMIN: mounts, namespaces, and what only an admin needs. */
    { "mount", CAP_SYS_ADMIN, NO_CAP },
    { "umount", CAP_SYS_ADMIN, NO_CAP },
    { "umount2", CAP_SYS_ADMIN, NO_CAP },
    { "pivot_root", CAP_SYS_ADMIN, NO_CAP },
    { "fsopen", CAP_SYS_ADMIN, NO_CAP },
    { "fsconfig", CAP_SYS_ADMIN, NO_CAP },
    { "fsmount", CAP_SYS_ADMIN, NO_CAP },
    { "fspick", CAP_SYS_ADMIN, NO_CAP },
    { "open_tree", CAP_SYS_ADMIN, NO_CAP },
    { "move_mount", CAP_SYS_ADMIN, NO_CAP },
    { "mount_setattr", CAP_SYS_ADMIN, NO_CAP },
    { "unshare", CAP_SYS_ADMIN, NO_CAP },
    { "setns", CAP_SYS_ADMIN, NO_CAP },
    { "bpf", CAP_SYS_ADMIN, CAP_BPF },
    { "perf_event_open", CAP_SYS_ADMIN, CAP_PERFMON },
    { "fanotify_init", CAP_SYS_ADMIN, NO_CAP },
    { "lookup_dcookie", CAP_SYS_ADMIN, NO_CAP },
    { "name_to_handle_at", CAP_SYS_ADMIN, NO_CAP },
    { "quotactl", CAP_SYS_ADMIN, NO_CAP },
    { "quotactl_fd", CAP_SYS_ADMIN, NO_CAP },
    { "sethostname", CAP_SYS_ADMIN, NO_CAP },  /* keel sets it before the filter */
    { "setdomainname", CAP_SYS_ADMIN, NO_CAP },
    { "syslog", CAP_SYS_ADMIN, CAP_SYSLOG },

    { "open_by_handle_at", CAP_DAC_READ_SEARCH, NO_CAP },  /* the "shocker" escape */
    { "reboot", CAP_SYS_BOOT, NO_CAP },
    { "chroot", CAP_SYS_CHROOT, NO_CAP },
    { "init_module", CAP_SYS_MODULE, NO_CAP },
    { "finit_module", CAP_SYS_MODULE, NO_CAP },
    { "delete_module", CAP_SYS_MODULE, NO_CAP },
    { "acct", CAP_SYS_PACCT, NO_CAP },
    /* ptrace and process_vm_* are allowed: Docker allows them on kernels
     * >= 4.8, where ptrace can no longer bypass seccomp. */
    { "kcmp", CAP_SYS_PTRACE, NO_CAP },
    { "pidfd_getfd", CAP_SYS_PTRACE, NO_CAP },
    { "process_madvise", CAP_SYS_PTRACE, NO_CAP },
    { "iopl", CAP_SYS_RAWIO, NO_CAP },
    { "ioperm", CAP_SYS_RAWIO, NO_CAP },
    { "settimeofday", CAP_SYS_TIME, NO_CAP },
    { "stime", CAP_SYS_TIME, NO_CAP },
    { "clock_settime", CAP_SYS_TIME, NO_CAP },
    { "clock_settime64", CAP_SYS_TIME, NO_CAP },
    { "adjtimex", CAP_SYS_TIME, NO_CAP },      /* stricter than Docker: also read-only use */
    { "clock_adjtime", CAP_SYS_TIME, NO_CAP },
    { "clock_adjtime64", CAP_SYS_TIME, NO_CAP },
    { "vhangup", CAP_SYS_TTY_CONFIG, NO_CAP },
    { "get_mempolicy", CAP_SYS_NICE, NO_CAP },
    { "set_mempolicy", CAP_SYS_NICE, NO_CAP },
    { "mbind", CAP_SYS_NICE, NO_CAP },
};

/* clone with any of these creates namespaces: refused without CAP_SYS_ADMIN.
 * (CLONE_NEWTIME shares its bit with CSIGNAL in clone's flags.) */
static const uint64_t clone_ns_flags[] = {
    CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
};

static bool has_cap(uint64_t caps, int cap)
{
    return cap >= 0 && cap < 64 && (caps & (1ull << cap));
}

static bool deny_applies(const struct deny *d, uint64_t caps)
{
    return !has_cap(caps, d->cap1) && !has_cap(caps, d->cap2);
}

int seccomp_default_blocks(const char *name, uint64_t caps)
{
    if (strcmp(name, "clone3") == 0 || strcmp(name, "clone") == 0)
        return !has_cap(caps, CAP_SYS_ADMIN);    /* clone: only with namespace flags */
    for (size_t i = 0; i < ARRAY_SIZE(deny_table); i++)
        if (strcmp(deny_table[i].name, name) == 0)
            return deny_applies(&deny_table[i], caps);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Compiling with libseccomp, exporting classic BPF.                         */

static void ctx_release(scmp_filter_ctx *ctx)
{
    if (*ctx)
        seccomp_release(*ctx);
}
#define _cleanup_scmp_ __attribute__((cleanup(ctx_release)))

static int new_ctx(uint32_t def, scmp_filter_ctx *out, struct kerr *err)
{
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx)
        return kerr_set(err, ENOMEM, "cannot create a seccomp filter");
    /* The native arch (x86-64) is in already; i386 (int 0x80) and x32
     * (syscall numbers with bit 30) are other doors into the kernel that
     * must get the same rules. */
    int r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
    if (r == 0 || r == -EEXIST)
        r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
    if (r == 0 || r == -EEXIST)
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    /* keel sets no_new_privs itself, as the manifest says. */
    if (r == 0)
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (r < 0 && r != -EEXIST) {
        seccomp_release(ctx);
        return kerr_set(err, -r, "cannot set up the seccomp filter architectures");
    }
    *out = ctx;
    return 0;
}

/* Adds a rule; a name libseccomp knows but that does not exist on one of
 * the filter's architectures is skipped there by libseccomp itself. */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, struct kerr *err)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
        return kerr_msg(err, EINVAL, "cannot add seccomp rule: unknown system call %s", name);
    int r = seccomp_rule_add(ctx, action, nr, 0);
    if (r < 0)
        return kerr_set(err, -r, "cannot add seccomp rule for %s", name);
    return 0;
}

static int export_prog(scmp_filter_ctx ctx, struct seccomp_prog *out, struct kerr *err)
{
    /* libseccomp 2.5 exports to an fd only: a memfd keeps it off disk. */
    _cleanup_close_ int fd = memfd_create("keel-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return kerr_set(err, errno, "cannot create a memfd for the seccomp filter");
    int r = seccomp_export_bpf(ctx, fd);
    if (r < 0)
        return kerr_set(err, -r, "cannot compile the seccomp filter");
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0)
        return kerr_set(err, errno, "cannot read the compiled seccomp filter");
    if (size == 0 || size % (off_t)sizeof(struct sock_filter) ||
        size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
        return kerr_msg(err, E2BIG, "compiled seccomp filter has an invalid size of %lld bytes", (long long)size);
    struct sock_filter *insns = malloc((size_t)size);
    if (!insns)
        return kerr_set(err, ENOMEM, "cannot read the compiled seccomp filter");
    ssize_t n = pread(fd, insns, (size_t)size, 0);
    if (n != size) {
        free(insns);
        return kerr_set(err, n < 0 ? errno : EIO, "cannot read the compiled seccomp filter");
    }
    out->insns = insns;
    out->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
    return 0;
}

int seccomp_build_default(uint64_t caps, struct seccomp_prog *out, struct kerr *err)
{
    out->insns = NULL;
    out->len = 0;
    _cleanup_scmp_ scmp_filter_ctx ctx = NULL;
    int r = new_ctx(SCMP_ACT_ALLOW, &ctx, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < ARRAY_SIZE(deny_table); i++) {
        if (!deny_applies(&deny_table[i], caps))
            continue;
        /* A name this libseccomp does not know cannot be called through it
         * either on this build's arches; not an error. */
        if (seccomp_syscall_resolve_name(deny_table[i].name) == __NR_SCMP_ERROR)
            continue;
        if ((r = add_rule(ctx, SCMP_ACT_ERRNO(EPERM), deny_table[i].name, err)) < 0)
            return r;
    }
    if (!has_cap(caps, CAP_SYS_ADMIN)) {
        /* clone3 passes its flags in memory, which seccomp cannot read:
         * ENOSYS makes libc fall back to clone, whose flags it can. */
        if ((r = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", err)) < 0)
            return r;
        for (size_t i = 0; i < ARRAY_SIZE(clone_ns_flags); i++) {
            /* On x86 (all three ABIs) clone's flags are its first argument. */
            r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                 SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]));
            if (r < 0)
                return kerr_set(err, -r, "cannot add seccomp rule for clone");
        }
    }
    return export_prog(ctx, out, err);
}

static uint32_t scmp_action(enum seccomp_action a, int errno_value)
{
    switch (a) {
    case SECCOMP_ALLOW: return SCMP_ACT_ALLOW;
    case SECCOMP_KILL: return SCMP_ACT_KILL_PROCESS;
    case SECCOMP_ERRNO: break;
    }
    return SCMP_ACT_ERRNO((uint32_t)errno_value);
}

int seccomp_build_profile(const struct seccomp_profile *p, struct seccomp_prog *out, struct kerr *err)
{
    out->insns = NULL;
    out->len = 0;
    uint32_t def = scmp_action(p->default_action, p->default_errno);
    _cleanup_scmp_ scmp_filter_ctx ctx = NULL;
    int r = new_ctx(def, &ctx, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < p->n_rules; i++) {
        uint32_t a = scmp_action(p->rules[i].action, p->rules[i].errno_value);
        if (a == def)
            continue;   /* libseccomp refuses a rule that repeats the default */
        if (add_rule(ctx, a, p->rules[i].name, err) < 0)
            return kerr_prefix(err, "line %d", p->rules[i].line);
    }
    return export_prog(ctx, out, err);
}

int seccomp_build(const struct container_spec *c, uint64_t caps, struct seccomp_prog *out, struct kerr *err)
{
    out->insns = NULL;
    out->len = 0;
    switch (c->seccomp) {
    case SECCOMP_UNCONFINED:
        return 0;
    case SECCOMP_DEFAULT:
        return seccomp_build_default(caps, out, err);
    case SECCOMP_FILE:
        break;
    }
    struct seccomp_profile p;
    char **errors = NULL;
    int r = seccomp_profile_load(c->seccomp_file, &p, &errors);
    if (r < 0) {
        r = kerr_msg(err, -r, "cannot load seccomp filter of container %s: %s", c->name,
                     errors && errors[0] ? errors[0] : c->seccomp_file);
        strv_free(errors);
        return r;
    }
    r = seccomp_build_profile(&p, out, err);
    seccomp_profile_free(&p);
    if (r < 0)
        return kerr_prefix(err, "cannot build seccomp filter %s of container %s", c->seccomp_file, c->name);
    return 0;
}

void seccomp_prog_free(struct seccomp_prog *p)
{
    free(p->insns);
    p->insns = NULL;
    p->len = 0;
}

int seccomp_install(const struct seccomp_prog *p, struct kerr *err)
{
    if (!p || p->len == 0)
        return 0;
    struct sock_fprog prog = { .len = p->len, .filter = p->insns };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
        return 0;
    if (errno == ENOSYS && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0)
        return 0;
    return kerr_set(err, errno, "cannot load the seccomp filter");
}

/* ------------------------------------------------------------------------ */
/* The custom text format.                                                   */

static const struct { const char *name; int value; } errno_names[] = {
    { "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EIO", EIO }, { "E2BIG", E2BIG }, { "EBADF", EBADF },
    { "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM }, { "EACCES", EACCES }, { "EFAULT", EFAULT },
    { "EBUSY", EBUSY }, { "EEXIST", EEXIST }, { "EINVAL", EINVAL }, { "ENOSPC", ENOSPC },
    { "EROFS", EROFS }, { "ENOSYS", ENOSYS }, { "EOPNOTSUPP", EOPNOTSUPP }, { "ENOTSUP", ENOTSUP },
    { "EAFNOSUPPORT", EAFNOSUPPORT }, { "EPROTONOSUPPORT", EPROTONOSUPPORT },
};

static int parse_errno(const char *s, int *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++)
        if (strcmp(s, errno_names[i].name) == 0) {
            *out = errno_names[i].value;
            return 0;
        }
    if (!*s || strlen(s) > 4)
        return -EINVAL;
    int v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (*p - '0');
    }
    /* SECCOMP_RET_DATA holds 16 bits, but errno values end at 4095. */
    if (v < 1 || v > 4095)
        return -EINVAL;
    *out = v;
    return 0;
}

static void report(char ***errors, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(char ***errors, const char *file, int line, const char *fmt, ...)
{
    if (!errors)
        return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    strv_push_take(errors, xasprintf("%s:%d: %s", file, line, msg));
}

static int parse_action(const char *w, enum seccomp_action *a)
{
    if (strcmp(w, "allow") == 0)
        *a = SECCOMP_ALLOW;
    else if (strcmp(w, "errno") == 0)
        *a = SECCOMP_ERRNO;
    else if (strcmp(w, "kill") == 0)
        *a = SECCOMP_KILL;
    else
        return -EINVAL;
    return 0;
}

#define MAX_WORDS 4
#define WORD_MAX 64
#define MAX_RULES 4096

int seccomp_profile_parse(const char *file, const char *buf, size_t len, struct seccomp_profile *out,
                          char ***errors)
{
    memset(out, 0, sizeof *out);
    out->default_errno = EPERM;
    int default_line = 0, lineno = 0;
    bool bad = false;
    size_t pos = 0;
    while (pos < len) {
        lineno++;
        size_t end = pos;
        while (end < len && buf[end] != '\n')
            end++;
        const char *line = buf + pos;
        size_t ll = end - pos;
        pos = end + 1;
        if (memchr(line, '\0', ll)) {
            report(errors, file, lineno, "NUL byte in line");
            bad = true;
            continue;
        }
        /* Split into words; '#' starts a comment anywhere. */
        char words[MAX_WORDS][WORD_MAX];
        int nw = 0;
        bool too_long = false;
        for (size_t i = 0; i < ll;) {
            while (i < ll && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
                i++;
            if (i >= ll || line[i] == '#')
                break;
            size_t b = i;
            while (i < ll && line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '#')
                i++;
            if (nw == MAX_WORDS) {
                nw++;
                break;
            }
            if (i - b >= WORD_MAX) {
                too_long = true;
                break;
            }
            memcpy(words[nw], line + b, i - b);
            words[nw][i - b] = '\0';
            nw++;
        }
        if (nw == 0 && !too_long)
            continue;
        if (too_long) {
            report(errors, file, lineno, "word longer than %d characters", WORD_MAX - 1);
            bad = true;
            continue;
        }
        if (nw > 3) {
            report(errors, file, lineno, "too many words (expected: ACTION SYSCALL [ERRNO])");
            bad = true;
            continue;
        }
        enum seccomp_action a;
        int ev = EPERM;
        if (strcmp(words[0], "default") == 0) {
            if (nw < 2 || parse_action(words[1], &a) < 0) {
                report(errors, file, lineno, "expected \"default allow\", \"default errno [ERRNO]\" or \"default kill\"");
                bad = true;
                continue;
            }
            if (nw == 3 && (a != SECCOMP_ERRNO || parse_errno(words[2], &ev) < 0)) {
                report(errors, file, lineno, a == SECCOMP_ERRNO ? "invalid errno \"%s\"" : "unexpected \"%s\"",
                       words[2]);
                bad = true;
                continue;
            }
            if (default_line) {
                report(errors, file, lineno, "duplicate default action (first at line %d)", default_line);
                bad = true;
                continue;
            }
            default_line = lineno;
            out->default_action = a;
            out->default_errno = ev;
            continue;
        }
        if (parse_action(words[0], &a) < 0) {
            report(errors, file, lineno, "unknown action \"%s\" (expected default, allow, errno or kill)", words[0]);
            bad = true;
            continue;
        }
        if (nw < 2) {
            report(errors, file, lineno, "missing system call name after \"%s\"", words[0]);
            bad = true;
            continue;
        }
        if (nw == 3 && (a != SECCOMP_ERRNO || parse_errno(words[2], &ev) < 0)) {
            report(errors, file, lineno, a == SECCOMP_ERRNO ? "invalid errno \"%s\" (a name such as EPERM or 1..4095)"
                                                            : "unexpected \"%s\"", words[2]);
            bad = true;
            continue;
        }
        if (seccomp_syscall_resolve_name(words[1]) == __NR_SCMP_ERROR) {
            report(errors, file, lineno, "unknown system call \"%s\"", words[1]);
            bad = true;
            continue;
        }
        int dup = 0;
        for (size_t i = 0; i < out->n_rules; i++)
            if (strcmp(out->rules[i].name, words[1]) == 0)
                dup = out->rules[i].line;
        if (dup) {
            report(errors, file, lineno, "duplicate rule for %s (first at line %d)", words[1], dup);
            bad = true;
            continue;
        }
        if (out->n_rules >= MAX_RULES) {
            report(errors, file, lineno, "too many rules (at most %d)", MAX_RULES);
            bad = true;
            break;
        }
        struct seccomp_rule *nr = realloc(out->rules, (out->n_rules + 1) * sizeof *nr);
        if (!nr) {
            seccomp_profile_free(out);
            report(errors, file, lineno, "out of memory");
            return -ENOMEM;
        }
        out->rules = nr;
        struct seccomp_rule *r = &nr[out->n_rules++];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", words[1]);
        r->action = a;
        r->errno_value = ev;
        r->line = lineno;
    }
    if (!default_line && !bad) {
        report(errors, file, lineno ? lineno : 1, "missing \"default\" action line");
        bad = true;
    }
    if (bad) {
        seccomp_profile_free(out);
        return -EINVAL;
    }
    return 0;
}

int seccomp_profile_load(const char *path, struct seccomp_profile *out, char ***errors)
{
    memset(out, 0, sizeof *out);
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    int r = read_file_at(AT_FDCWD, path, 1u << 20, &buf, &len);
    if (r < 0) {
        if (errors)
            strv_push_take(errors, xasprintf("cannot read seccomp filter %s: %s", path, strerror(-r)));
        return r;
    }
    return seccomp_profile_parse(path, buf, len, out, errors);
}

void seccomp_profile_free(struct seccomp_profile *p)
{
    free(p->rules);
    p->rules = NULL;
    p->n_rules = 0;
}

void seccomp_plan(const struct container_spec *c, uint64_t caps, FILE *out)
{
    switch (c->seccomp) {
    case SECCOMP_UNCONFINED:
        fprintf(out, "    seccomp: unconfined\n");
        return;
    case SECCOMP_FILE:
        fprintf(out, "    seccomp: file %s\n", c->seccomp_file ? c->seccomp_file : "?");
        return;
    case SECCOMP_DEFAULT:
        break;
    }
    fprintf(out, "    seccomp: default, EPERM for");
    for (size_t i = 0; i < ARRAY_SIZE(deny_table); i++)
        if (deny_applies(&deny_table[i], caps))
            fprintf(out, " %s", deny_table[i].name);
    if (!has_cap(caps, CAP_SYS_ADMIN))
        fprintf(out, " clone(namespace flags); ENOSYS for clone3");
    fprintf(out, "\n");
}
