/* seccomp.c — the containers' system call filter (see seccomp.h and
 * docs/security-seccomp.md).
 *
 * Why a deny list with default "allow" and not Docker's allow list: an
 * appliance runs arbitrary programs, and an allow list breaks them each time
 * libc starts using a system call the list does not know yet (clone3 and
 * faccessat2 broke Docker users for years).  The list below names every
 * call Docker's default profile refuses on x86 (by leaving it out of its
 * allow list), grouped by the capability that lets Docker allow it, plus
 * io_uring, which Docker has refused since 25.0.  The price, a system call
 * added to the kernel later being allowed until it is added here, is bounded
 * by the guard in front of the list (guard_build): a number above the linked
 * libseccomp's tables gets ENOSYS.
 */
#include "keel/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/vm_sockets.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "keel/sys.h"
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

/* The default filter compiled at build time (src/gen/seccomp_gen.c writes
 * seccomp_prebuilt.h with libseccomp, through seccomp_compile_default, for
 * the default capability set).  libseccomp's compilation is pure CPU work
 * (~1 ms natively, 27-46 ms in a TCG guest, in keel's boot before the first
 * container's clone); the table holds its exact output.  `caps` and `opts`
 * are the key as prebuilt_key makes it: only the capabilities the filter
 * looks at.  Without the generated header (a cross build, the linters) the
 * table is empty and every filter is compiled at run time. */
struct seccomp_prebuilt {
    uint64_t caps;
    unsigned opts;
    unsigned short len;
    const struct sock_filter *insns;
};
#if !defined(KEEL_SECCOMP_GEN) && defined(__has_include)
#if __has_include("seccomp_prebuilt.h")
#include "seccomp_prebuilt.h"
#endif
#endif
#ifndef SECCOMP_PREBUILT_N
#define SECCOMP_PREBUILT_N 0
static const struct seccomp_prebuilt seccomp_prebuilt[1];
#endif

static bool nested_userns(uint64_t caps, unsigned opts);

/* What of (caps, opts) the default filter depends on: the capabilities of
 * deny_table and CAP_SYS_ADMIN (clone's and unshare's rules), and whether
 * nested user namespaces are allowed. */
static void prebuilt_key(uint64_t caps, unsigned opts, uint64_t *kcaps, unsigned *kopts)
{
    uint64_t mask = 1ull << CAP_SYS_ADMIN;
    for (size_t i = 0; i < ARRAY_SIZE(deny_table); i++) {
        if (deny_table[i].cap1 >= 0 && deny_table[i].cap1 < 64)
            mask |= 1ull << deny_table[i].cap1;
        if (deny_table[i].cap2 >= 0 && deny_table[i].cap2 < 64)
            mask |= 1ull << deny_table[i].cap2;
    }
    *kcaps = caps & mask;
    *kopts = nested_userns(caps, opts) ? SECCOMP_NESTED_USERNS : 0;
}

static const struct seccomp_prebuilt *prebuilt_find(uint64_t caps, unsigned opts)
{
    uint64_t kcaps;
    unsigned kopts;
    prebuilt_key(caps, opts, &kcaps, &kopts);
    /* (A pointer walk: with an empty table an index compare is always false, which -Wtype-limits refuses.) */
    for (const struct seccomp_prebuilt *pb = seccomp_prebuilt; pb < seccomp_prebuilt + SECCOMP_PREBUILT_N; pb++)
        if (pb->caps == kcaps && pb->opts == kopts)
            return pb;
    return NULL;
}

bool seccomp_default_prebuilt(uint64_t caps, unsigned opts)
{
    return prebuilt_find(caps, opts) != NULL;
}

/* Whether the container may make user namespaces: CAP_SYS_ADMIN (which opens
 * the namespace group) and nested_userns = yes. */
static bool nested_userns(uint64_t caps, unsigned opts)
{
    return has_cap(caps, CAP_SYS_ADMIN) && (opts & SECCOMP_NESTED_USERNS);
}

int seccomp_default_blocks(const char *name, uint64_t caps, unsigned opts)
{
    /* Refused whatever the capabilities, in the guard (see guard_prefix). */
    if (strcmp(name, "socket") == 0 || strcmp(name, "socketcall") == 0 || strcmp(name, "personality") == 0)
        return 1;
    /* clone (namespace flags), clone3 (all of it) and unshare (CLONE_NEWUSER)
     * keep a refused form unless user namespaces are allowed. */
    if (strcmp(name, "clone3") == 0 || strcmp(name, "clone") == 0 || strcmp(name, "unshare") == 0)
        return !nested_userns(caps, opts);
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

/* The filter's architectures besides the native one libseccomp starts with. */
#if defined(__x86_64__)
static int add_arches(scmp_filter_ctx ctx)
{
    /* The native arch (x86-64) is in already; i386 (int 0x80) and x32
     * (syscall numbers with bit 30) are other doors into the kernel that
     * must get the same rules. */
    int r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
    if (r == 0 || r == -EEXIST)
        r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
    return r == -EEXIST ? 0 : r;
}
#elif defined(__aarch64__)
static int add_arches(scmp_filter_ctx ctx)
{
    /* aarch64 alone.  The other door, arm32 processes on a kernel with
     * CONFIG_COMPAT (Debian's has it), is closed, not filtered: every call
     * with AUDIT_ARCH_ARM kills the process (the bad-arch action).  A
     * container of arm64 programs has no use for it, and a second table is a
     * second thing to get wrong. */
    (void)ctx;
    return 0;
}
#else
/* (Not #error: cppcheck walks this configuration too.) */
_Static_assert(0, "keel's seccomp filter knows x86-64 and aarch64 (see guard_arch)");
#endif

static int new_ctx(uint32_t def, scmp_filter_ctx *out, struct kerr *err)
{
    scmp_filter_ctx ctx = seccomp_init(def);
    if (!ctx)
        return kerr_set(err, ENOMEM, "cannot create a seccomp filter");
    int r = add_arches(ctx);
    if (r == 0)
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

/* ------------------------------------------------------------------------ */
/* The guard: hand-written classic BPF run before libseccomp's program.      */

/* libseccomp 2.5 can express neither "a number above every call I know"
 * nor "an argument that is none of these values" in a default-allow filter,
 * so the default filter starts with a few instructions of its own:
 *  - a system call number above the highest one this libseccomp knows for the
 *    ABI (x86-64; x32, where calls added after the x32-only block at 512 are
 *    numbered below it, so the gap counts too; i386) fails with ENOSYS: a call
 *    added to the kernel after the table (listmount, statmount, mseal, ...)
 *    was allowed by the deny list; ENOSYS is what libc expects of a call the
 *    kernel lacks, as Docker's allow list answers;
 *  - personality(2) with any persona but Docker's five (0, PER_LINUX32 = 8,
 *    UNAME26 = 0x20000, both, 0xffffffff = query) fails with EPERM
 *    (ADDR_NO_RANDOMIZE and READ_IMPLIES_EXEC weaken the container's own
 *    defences; the kernel reads the low 32 bits only);
 *  - socket(AF_VSOCK, ...) fails with EPERM: vsock is not namespaced, and
 *    keel's own vsock listener (control = vsock://) would be reachable;
 *  - i386 socketcall(2) fails with ENOSYS: its arguments are in memory,
 *    where seccomp cannot check the address family; libc then uses socket(2).
 * The guard ends by falling through into libseccomp's program, which loads
 * the architecture and number again itself. */

#define X32_BIT 0x40000000u
#define GUARD_MAX 48

enum guard_label { L_X64, L_X32, L_X32_GAP, L_I386, L_PERS, L_SOCK, L_ENOSYS, L_EPERM, L_END, L_COUNT };

struct guard {
    struct sock_filter insns[GUARD_MAX];
    int jt[GUARD_MAX], jf[GUARD_MAX];   /* a label, or -1: the next instruction */
    int at[L_COUNT];
    unsigned short n;
};

static void g_emit(struct guard *g, unsigned short code, uint32_t k, int jt, int jf)
{
    if (g->n < GUARD_MAX) {
        g->insns[g->n] = (struct sock_filter)BPF_STMT(code, k);
        g->jt[g->n] = jt;
        g->jf[g->n] = jf;
    }
    g->n++;
}

static void g_jump(struct guard *g, unsigned short op, uint32_t k, int jt, int jf)
{
    g_emit(g, BPF_JMP | op | BPF_K, k, jt, jf);
}

static void g_load(struct guard *g, uint32_t offset)
{
    g_emit(g, BPF_LD | BPF_W | BPF_ABS, offset, -1, -1);
}

static const uint32_t arch_off = offsetof(struct seccomp_data, arch), nr_off = offsetof(struct seccomp_data, nr);

/* The highest number libseccomp resolves to a name for `arch` in base + [0, top]. */
static uint32_t highest_known(uint32_t arch, uint32_t base, uint32_t top)
{
    uint32_t best = 0;
    for (uint32_t n = 0; n <= top; n++) {
        char *name = seccomp_syscall_resolve_num_arch(arch, (int)(base + n));
        if (name)
            best = n;
        free(name);
    }
    return base + best;
}

/* The number of `name` on `arch`, checked against libseccomp's table (which
 * for i386 socket calls answers with a socketcall pseudo-number, hence the
 * ABI's own numbers, fixed forever, checked by name). */
static int nr_of(uint32_t arch, int nr, const char *name)
{
    char *known = seccomp_syscall_resolve_num_arch(arch, nr);
    bool same = known && strcmp(known, name) == 0;
    free(known);
    return same ? nr : -1;
}

#if defined(__x86_64__)
/* x86-64's guard: x86-64, x32 and i386 numbers. */
static int guard_arch(struct guard *g, struct kerr *err)
{
    uint32_t max64 = highest_known(SCMP_ARCH_X86_64, 0, 1023);
    uint32_t max386 = highest_known(SCMP_ARCH_X86, 0, 1023);
    uint32_t maxx32 = highest_known(SCMP_ARCH_X32, X32_BIT, 1023);
    uint32_t maxx32_low = highest_known(SCMP_ARCH_X32, X32_BIT, 511);
    int pers64 = nr_of(SCMP_ARCH_X86_64, 135, "personality"), sock64 = nr_of(SCMP_ARCH_X86_64, 41, "socket");
    int persx32 = nr_of(SCMP_ARCH_X32, X32_BIT + 135, "personality");
    int sockx32 = nr_of(SCMP_ARCH_X32, X32_BIT + 41, "socket");
    int pers386 = nr_of(SCMP_ARCH_X86, 136, "personality"), sock386 = nr_of(SCMP_ARCH_X86, 359, "socket");
    int sockcall386 = nr_of(SCMP_ARCH_X86, 102, "socketcall");
    if (pers64 < 0 || sock64 < 0 || persx32 < 0 || sockx32 < 0 || pers386 < 0 || sock386 < 0 || sockcall386 < 0 ||
        max64 < 400 || max386 < 400 || maxx32_low < X32_BIT + 400 || maxx32 < X32_BIT + 512)
        return kerr_msg(err, EINVAL, "cannot build the seccomp guard: libseccomp's x86 system call tables are incomplete");
    g_load(g, arch_off);
    g_jump(g, BPF_JEQ, AUDIT_ARCH_X86_64, L_X64, -1);
    g_jump(g, BPF_JEQ, AUDIT_ARCH_I386, L_I386, L_END);

    g->at[L_X64] = g->n;
    g_load(g, nr_off);
    g_jump(g, BPF_JGE, X32_BIT, L_X32, -1);
    g_jump(g, BPF_JGT, max64, L_ENOSYS, -1);
    g_jump(g, BPF_JEQ, (uint32_t)pers64, L_PERS, -1);
    g_jump(g, BPF_JEQ, (uint32_t)sock64, L_SOCK, L_END);

    g->at[L_X32] = g->n;
    g_jump(g, BPF_JGT, maxx32, L_ENOSYS, -1);
    g_jump(g, BPF_JGT, maxx32_low, L_X32_GAP, -1);
    g_jump(g, BPF_JEQ, (uint32_t)persx32, L_PERS, -1);
    g_jump(g, BPF_JEQ, (uint32_t)sockx32, L_SOCK, L_END);
    g->at[L_X32_GAP] = g->n;
    g_jump(g, BPF_JGE, X32_BIT + 512, L_END, L_ENOSYS);

    g->at[L_I386] = g->n;
    g_load(g, nr_off);
    g_jump(g, BPF_JGT, max386, L_ENOSYS, -1);
    g_jump(g, BPF_JEQ, (uint32_t)sockcall386, L_ENOSYS, -1);
    g_jump(g, BPF_JEQ, (uint32_t)pers386, L_PERS, -1);
    g_jump(g, BPF_JEQ, (uint32_t)sock386, L_SOCK, L_END);
    return 0;
}
#elif defined(__aarch64__)
/* aarch64's guard: one ABI (the generic table: no open, fork or socketcall;
 * x32's bit 30 is not special, the number is simply unknown).  Any other
 * architecture (arm32 compat) falls through to libseccomp's program, which
 * kills the process. */
static int guard_arch(struct guard *g, struct kerr *err)
{
    uint32_t maxa64 = highest_known(SCMP_ARCH_AARCH64, 0, 1023);
    int persa64 = nr_of(SCMP_ARCH_AARCH64, __NR_personality, "personality");
    int socka64 = nr_of(SCMP_ARCH_AARCH64, __NR_socket, "socket");
    if (persa64 < 0 || socka64 < 0 || maxa64 < 400)
        return kerr_msg(err, EINVAL, "cannot build the seccomp guard: libseccomp's aarch64 system call table is "
                                     "incomplete");
    g_load(g, arch_off);
    g_jump(g, BPF_JEQ, AUDIT_ARCH_AARCH64, -1, L_END);
    g_load(g, nr_off);
    g_jump(g, BPF_JGT, maxa64, L_ENOSYS, -1);
    g_jump(g, BPF_JEQ, (uint32_t)persa64, L_PERS, -1);
    g_jump(g, BPF_JEQ, (uint32_t)socka64, L_SOCK, L_END);
    return 0;
}
#endif

static int guard_build(struct guard *g, struct kerr *err)
{
    memset(g, 0, sizeof *g);
    int r = guard_arch(g, err);
    if (r < 0)
        return r;
    const uint32_t arg0_low = offsetof(struct seccomp_data, args);   /* little-endian: the low half */

    g->at[L_PERS] = g->n;
    g_load(g, arg0_low);
    static const uint32_t personas[] = { 0x0, 0x8, 0x20000, 0x20008 };
    for (size_t i = 0; i < ARRAY_SIZE(personas); i++)
        g_jump(g, BPF_JEQ, personas[i], L_END, -1);
    g_jump(g, BPF_JEQ, 0xffffffffu, L_END, L_EPERM);

    g->at[L_SOCK] = g->n;
    g_load(g, arg0_low);
    g_jump(g, BPF_JEQ, AF_VSOCK, L_EPERM, L_END);

    g->at[L_ENOSYS] = g->n;
    g_emit(g, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA), -1, -1);
    g->at[L_EPERM] = g->n;
    g_emit(g, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA), -1, -1);
    g->at[L_END] = g->n;
    if (g->n > GUARD_MAX)
        return kerr_msg(err, E2BIG, "cannot build the seccomp guard: %u instructions", g->n);

    /* Labels to forward offsets (classic BPF jumps only forward). */
    for (unsigned short i = 0; i < g->n; i++) {
        if (BPF_CLASS(g->insns[i].code) != BPF_JMP)
            continue;
        int t = g->jt[i] < 0 ? i + 1 : g->at[g->jt[i]];
        int f = g->jf[i] < 0 ? i + 1 : g->at[g->jf[i]];
        if (t <= i || f <= i || t - i - 1 > 255 || f - i - 1 > 255)
            return kerr_msg(err, EINVAL, "cannot build the seccomp guard: bad jump at %u", i);
        g->insns[i].jt = (unsigned char)(t - i - 1);
        g->insns[i].jf = (unsigned char)(f - i - 1);
    }
    return 0;
}

/* Puts the guard in front of `prog` (libseccomp's default filter). */
static int guard_prepend(struct seccomp_prog *prog, struct kerr *err)
{
    struct guard g;
    int r = guard_build(&g, err);
    if (r < 0)
        return r;
    size_t total = (size_t)g.n + prog->len;
    if (total > BPF_MAXINSNS)
        return kerr_msg(err, E2BIG, "the seccomp filter has %zu instructions, more than the kernel's %d", total,
                        BPF_MAXINSNS);
    struct sock_filter *insns = malloc(total * sizeof *insns);
    if (!insns)
        return kerr_set(err, ENOMEM, "cannot build the seccomp filter");
    memcpy(insns, g.insns, g.n * sizeof *insns);
    memcpy(insns + g.n, prog->insns, prog->len * sizeof *insns);
    free(prog->insns);
    prog->insns = insns;
    prog->len = (unsigned short)total;
    return 0;
}

int seccomp_build_default(uint64_t caps, unsigned opts, struct seccomp_prog *out, struct kerr *err)
{
    const struct seccomp_prebuilt *pb = prebuilt_find(caps, opts);
    if (!pb)
        return seccomp_compile_default(caps, opts, out, err);
    out->insns = malloc(pb->len * sizeof *out->insns);
    out->len = out->insns ? pb->len : 0;
    if (!out->insns)
        return kerr_set(err, ENOMEM, "cannot build the seccomp filter");
    memcpy(out->insns, pb->insns, pb->len * sizeof *out->insns);
    return 0;
}

int seccomp_compile_default(uint64_t caps, unsigned opts, struct seccomp_prog *out, struct kerr *err)
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
    bool admin = has_cap(caps, CAP_SYS_ADMIN);
    if (!nested_userns(caps, opts)) {
        /* clone3 passes its flags in memory, which seccomp cannot read:
         * ENOSYS makes libc fall back to clone, whose flags it can. */
        if ((r = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", err)) < 0)
            return r;
        /* Without CAP_SYS_ADMIN no namespace at all; with it, still no user
         * namespace (in one, every capability comes back over namespaces it
         * makes: mounts, a network stack) unless nested_userns = yes.  On x86
         * (all three ABIs) and on aarch64 (whose clone swaps x86's last two
         * arguments, tls and child_tid: CONFIG_CLONE_BACKWARDS) the flags are
         * clone's and unshare's first argument;
         * without CAP_SYS_ADMIN unshare is refused whole (deny_table). */
        for (size_t i = 0; i < ARRAY_SIZE(clone_ns_flags); i++) {
            if (admin && clone_ns_flags[i] != CLONE_NEWUSER)
                continue;
            r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                 SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]));
            if (r == 0 && admin)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                                     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER));
            if (r < 0)
                return kerr_set(err, -r, "cannot add seccomp rule for clone");
        }
    }
    if ((r = export_prog(ctx, out, err)) < 0)
        return r;
    if ((r = guard_prepend(out, err)) < 0)
        seccomp_prog_free(out);
    return r;
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
        return seccomp_build_default(caps, c->nested_userns ? SECCOMP_NESTED_USERNS : 0, out, err);
    case SECCOMP_FILE:
        break;
    }
    /* The text read with the manifest (manifest.h): the start reads no path.
     * A profile on an fstab file system was read after the load: why that
     * failed is only known here. */
    if (!c->seccomp_text && c->seccomp_read_err)
        return kerr_msg(err, c->seccomp_read_err, "cannot load seccomp filter of container %s: cannot read seccomp "
                        "profile %s: %s", c->name, c->seccomp_file, manifest_read_why(c->seccomp_read_err));
    if (!c->seccomp_text)
        return kerr_msg(err, ENOENT, "cannot load seccomp filter of container %s: %s was not read with the manifest",
                        c->name, c->seccomp_file);
    struct seccomp_profile p;
    char **errors = NULL;
    int r = seccomp_profile_parse(c->seccomp_file, c->seccomp_text, c->seccomp_text_len, &p, &errors);
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
    if (sys_seccomp_set_filter(&prog) == 0)
        return 0;
    if (errno == ENOSYS && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0)
        return 0;
    return kerr_set(err, errno, "cannot load the seccomp filter");
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
    bool admin = has_cap(caps, CAP_SYS_ADMIN);
    if (!admin)
        fprintf(out, " clone(namespace flags)");
    else if (!c->nested_userns)
        fprintf(out, " clone(CLONE_NEWUSER) unshare(CLONE_NEWUSER)");
    fprintf(out, " socket(AF_VSOCK) personality(other than 0 8 0x20000 0x20008 0xffffffff); ENOSYS for");
    if (!(admin && c->nested_userns))
        fprintf(out, " clone3");
    fprintf(out, " socketcall(i386) and numbers above this libseccomp's tables\n");
}
