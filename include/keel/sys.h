/* sys.h — the raw system calls glibc 2.36 does not wrap (or wraps only in
 * newer versions), in one place.  Each returns what the kernel returns
 * (-1 with errno on failure); callers handle ENOSYS where a fallback exists.
 */
#ifndef KEEL_SYS_H
#define KEEL_SYS_H

#include <linux/openat2.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

struct sys_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

/* clone3 used like fork(): returns 0 in the child, the pid in the parent. */
pid_t sys_clone3(struct sys_clone_args *args);
int sys_pivot_root(const char *new_root, const char *put_old);
int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
int sys_pidfd_open(pid_t pid);
int sys_pidfd_send_signal(int pidfd, int sig);
/* Reaps the child of pidfd once it has ended, waiting for that at most
 * timeout_ms: 0 when reaped (*status, if not NULL: its exit status, 128+N
 * for signal N); -ETIMEDOUT when it is still alive, left to the caller's
 * reaper (never waited for without a bound: SIGKILL does not end a process
 * in uninterruptible sleep, e.g. on a pipe's mutex a container holds);
 * -ECHILD when the caller's reaper took it already; other -errno. */
int sys_pidfd_reap(int pidfd, int timeout_ms, int *status);
/* An fd (O_CLOEXEC) of the namespace of type `clone_newtype` (CLONE_NEWNS,
 * CLONE_NEWPID, ...) the process of pidfd is in, as /proc/PID/ns/ would give
 * it, without a path lookup in /proc (the PIDFD_GET_*_NAMESPACE ioctls,
 * Linux 6.11); -1 with errno: ENOTTY before 6.11, EINVAL for another type. */
int sys_pidfd_ns(int pidfd, int clone_newtype);
/* Closes every fd in [first, last] (walking /proc/self/fd before 5.9). */
int sys_close_range(unsigned first, unsigned last);
int sys_close_range_from(unsigned first);   /* closes every fd >= first */
/* Default dispositions for the signals in `which` (bit s-1 for signal s,
 * 1..64) and an empty mask, for a program about to be exec'd: the raw calls,
 * because glibc's wrappers refuse the two real-time signals it keeps for
 * itself (32, 33), which an ignoring parent would otherwise pass on.  Cannot
 * fail for valid signals. */
void sys_reset_signals(uint64_t which);
/* The signals whose disposition is not the default in this process (ignored
 * or caught), from /proc/self/status: what sys_reset_signals must reset in a
 * child forked after it (an ignored signal survives execve; caught ones are
 * reset too, as they were).  Every signal (~0) when the file cannot be read.
 * Call it in keel before forking: one read instead of 62 rt_sigaction in
 * every setup child. */
uint64_t sys_signals_not_default(void);
/* /proc/self/status into buf (NUL-terminated); 0 / -errno. */
int sys_read_status(char *buf, size_t size);
/* The hexadecimal field KEY ("CapBnd:") of a /proc/PID/status text; 0 /
 * -EINVAL when missing or malformed (pure). */
int sys_status_hex(const char *status, const char *key, uint64_t *v);
/* The parse of a /proc/PID/status text: SigIgn | SigCgt.  -EINVAL when a
 * line is missing or malformed (pure; for the unit tests). */
int sys_parse_signal_status(const char *status, uint64_t *mask);
/* clone(2) used like fork() with namespace flags, for kernels without clone3
 * (before 5.3): returns 0 in the child, the pid in the parent. */
pid_t sys_clone_fork(unsigned long flags);
int sys_finit_module(int fd, const char *params, int flags);
struct sock_fprog;
/* seccomp(SECCOMP_SET_MODE_FILTER, 0, prog): ENOSYS before 3.17, where the
 * caller falls back to prctl(PR_SET_SECCOMP). */
int sys_seccomp_set_filter(const struct sock_fprog *prog);

/* Binds what the O_PATH fd `src` names onto what the O_PATH fd `tgt` names,
 * with the new mount API and no path resolved anywhere: open_tree(src,
 * OPEN_TREE_CLONE | AT_RECURSIVE) clones the source's mount tree detached,
 * mount_setattr(AT_RECURSIVE) sets `attr_set` (MOUNT_ATTR_*) on every mount
 * of the clone, move_mount(MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
 * attaches it on `tgt` itself (the CVE-2025-52881 pattern: nothing the
 * container or another process changes between the steps can redirect it).
 * 0, or -1 with errno; ENOSYS on kernels before 5.12 (no mount_setattr),
 * where the caller falls back to mount(2). */
int sys_bind_fd(int src, int tgt, uint64_t attr_set);
/* The same for one mount: open_tree without AT_RECURSIVE with SUBMOUNTS
 * false, mount_setattr on the clone's top mount only, `attr_clr` cleared
 * (a mount(MS_REMOUNT | MS_BIND) with exactly the flags wanted, without
 * its path lookups and without a moment where the bind has other flags). */
int sys_bind_fd_top(int src, int tgt, bool submounts, uint64_t attr_set, uint64_t attr_clr);
/* (With neither attribute it is a plain bind, mount(MS_BIND)'s clone with
 * the source mount's flags: no mount_setattr call, works from Linux 5.2.) */

/* 1 when /proc/self/exe is a sealed memfd or a file on a read-only mount
 * (boot mode's bind of keel's binary): nothing that opens it through
 * /proc/PID/exe can write to it.  0 when it is a writable file; -errno.
 * Computed once per process. */
int sys_exe_protected(void);

/* Re-executes the running binary from a sealed memfd copy, unless it already
 * runs from one.  Afterwards /proc/self/exe of keel and of everything it forks
 * is that read-only copy, never the file on disk: a container that executes
 * /proc/self/exe (or opens it through /proc/PID/exe) reaches nothing it could
 * overwrite (the CVE-2019-5736 class).  Returns 0 when already sealed; on
 * success it does not return; -errno when it could not (keel run then refuses
 * to start: main.c). */
int sys_reexec_sealed(char **argv);

#endif
