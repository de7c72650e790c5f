/* sys.c — raw system calls, see sys.h. */
#include "keel/sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t sys_clone3(struct sys_clone_args *args)
{
    return (pid_t)syscall(SYS_clone3, args, sizeof *args);
}

int sys_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
    struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int sys_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int sys_pidfd_ns(int pidfd, int clone_newtype)
{
    /* <linux/pidfd.h>: PIDFD_GET_<TYPE>_NAMESPACE = _IO(PIDFS_IOCTL_MAGIC 0xFF, nr). */
    static const struct { int type; unsigned nr; } map[] = {
        { CLONE_NEWCGROUP, 1 }, { CLONE_NEWIPC, 2 }, { CLONE_NEWNS, 3 }, { CLONE_NEWNET, 4 },
        { CLONE_NEWPID, 5 }, { CLONE_NEWUSER, 9 }, { CLONE_NEWUTS, 10 },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].type == clone_newtype)
            return ioctl(pidfd, _IO(0xFF, map[i].nr), 0);
    errno = EINVAL;
    return -1;
}

int sys_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int sys_pidfd_reap(int pidfd, int timeout_ms, int *status)
{
    /* A pidfd is readable once its process has ended (or was reaped).  An
     * interrupted poll only shortens the wait: "at most" holds. */
    struct pollfd pf = { .fd = pidfd, .events = POLLIN };
    if (poll(&pf, 1, timeout_ms) < 0 && errno != EINTR)
        return -errno;
    siginfo_t si;
    si.si_pid = 0;   /* what tells "not ended" apart (waitid(2)) */
    if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0)
        return -errno;
    if (si.si_pid == 0)
        return -ETIMEDOUT;
    if (status)
        *status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
    return 0;
}

int sys_close_range(unsigned first, unsigned last)
{
    if (syscall(SYS_close_range, first, last, 0) == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    /* Kernels before 5.9: walk /proc/self/fd. */
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end)
            continue;   /* "." and ".." */
        if (fd >= (long)first && fd <= (long)last && fd != self)
            close((int)fd);
    }
    closedir(d);
    return 0;
}

int sys_close_range_from(unsigned first)
{
    return sys_close_range(first, ~0u);
}

void sys_reset_signals(uint64_t which)
{
    /* cppcheck-suppress unusedStructMember ; the kernel's struct sigaction, read by rt_sigaction */
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = { SIG_DFL, 0, NULL, 0 };
    for (int s = 1; s <= 64; s++)
        if (s != SIGKILL && s != SIGSTOP && (which & (UINT64_C(1) << (s - 1))))
            syscall(SYS_rt_sigaction, s, &dfl, NULL, sizeof(uint64_t));
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
}

int sys_status_hex(const char *status, const char *key, uint64_t *v)
{
    size_t klen = strlen(key);
    const char *p = status;
    while (strncmp(p, key, klen) != 0) {
        p = strchr(p, '\n');
        if (!p)
            return -EINVAL;
        p++;
    }
    p += klen;
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t x = 0;
    int digits = 0;
    for (; digits < 16; digits++, p++) {
        int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (d < 0)
            break;
        x = x << 4 | (uint64_t)d;
    }
    if (digits == 0 || (*p != '\n' && *p != '\0'))
        return -EINVAL;
    *v = x;
    return 0;
}

int sys_parse_signal_status(const char *status, uint64_t *mask)
{
    uint64_t ign, cgt;
    if (sys_status_hex(status, "SigIgn:", &ign) < 0 || sys_status_hex(status, "SigCgt:", &cgt) < 0)
        return -EINVAL;
    *mask = ign | cgt;
    return 0;
}

int sys_read_status(char *buf, size_t size)
{
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, size - 1);   /* one read: seq_file gives the whole (~1.4 KiB) text */
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    buf[n] = '\0';
    return 0;
}

uint64_t sys_signals_not_default(void)
{
    char buf[4096] = "";   /* zeroed: the analyzer cannot see that read() and the NUL define it */
    uint64_t mask;
    if (sys_read_status(buf, sizeof buf) < 0 || sys_parse_signal_status(buf, &mask) < 0)
        return ~UINT64_C(0);
    return mask;
}

pid_t sys_clone_fork(unsigned long flags)
{
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

int sys_finit_module(int fd, const char *params, int flags)
{
    return (int)syscall(SYS_finit_module, fd, params, flags);
}

int sys_seccomp_set_filter(const struct sock_fprog *prog)
{
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog);
}

static int bind_fd(int src, int tgt, unsigned tree_flags, unsigned attr_flags, uint64_t attr_set, uint64_t attr_clr)
{
    int tree = (int)syscall(SYS_open_tree, src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | tree_flags);
    if (tree < 0)
        return -1;
    struct mount_attr attr = { .attr_set = attr_set, .attr_clr = attr_clr };
    int r = 0;   /* nothing to set or clear: a plain bind, no call */
    if (attr_set | attr_clr)
        r = (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | attr_flags, &attr, sizeof attr);
    if (r == 0)
        r = (int)syscall(SYS_move_mount, tree, "", tgt, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    int e = errno;
    close(tree);   /* detached, the clone goes with it; attached, it stays */
    errno = e;
    return r;
}

int sys_bind_fd(int src, int tgt, uint64_t attr_set)
{
    return bind_fd(src, tgt, AT_RECURSIVE, AT_RECURSIVE, attr_set, 0);
}

int sys_bind_fd_top(int src, int tgt, bool submounts, uint64_t attr_set, uint64_t attr_clr)
{
    return bind_fd(src, tgt, submounts ? AT_RECURSIVE : 0, 0, attr_set, attr_clr);
}

int sys_exe_protected(void)
{
    static int known = -1;
    if (known >= 0)
        return known;
    const unsigned seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return -errno;
    int have = fcntl(self, F_GET_SEALS);
    struct statvfs vfs;
    int r = (have >= 0 && ((unsigned)have & seals) == seals) ||
            (fstatvfs(self, &vfs) == 0 && (vfs.f_flag & ST_RDONLY));
    close(self);
    return known = r;
}

int sys_reexec_sealed(char **argv)
{
    const unsigned seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
    int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (self < 0)
        return -errno;
    int have = fcntl(self, F_GET_SEALS);
    if (have >= 0 && ((unsigned)have & seals) == seals) {
        close(self);
        return 0;   /* already the sealed copy */
    }
    struct stat st = { 0 };
    int mfd = memfd_create("keel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    int r = 0;
    if (mfd < 0 || fstat(self, &st) < 0)
        r = -errno;
    for (off_t done = 0; r == 0 && done < st.st_size;) {
        ssize_t n = sendfile(mfd, self, NULL, (size_t)(st.st_size - done));
        if (n <= 0)
            r = n < 0 ? -errno : -EIO;
        else
            done += n;
    }
    close(self);
    if (r == 0 && fcntl(mfd, F_ADD_SEALS, seals) < 0)
        r = -errno;
    if (r == 0) {
        extern char **environ;
        syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
        r = -errno;
    }
    if (mfd >= 0)
        close(mfd);
    return r;
}
