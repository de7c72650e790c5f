/* a64-door.c — keel's default seccomp filter seen from an arm64 container.
 * tests/vm/arm64_boot.sh runs it (built with aarch64-linux-gnu-gcc -static)
 * in a default container on Debian's arm64 kernel: the calls the filter
 * refuses on x86 must be refused on aarch64 too, by its own numbers (the
 * generic table: no open, no fork; clone's flags first as on x86).  Prints
 * one line: "a64: NAME=RESULT ...", RESULT an errno name or "ok". */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define NR_MSEAL 462   /* Linux 6.10, above libseccomp 2.5.4's aarch64 table */

static const char *res(long r)
{
    if (r >= 0)
        return "ok";
    switch (errno) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return "error";
    }
}

int main(void)
{
    printf("a64: getpid=%s", res(syscall(__NR_getpid)));
    printf(" keyctl=%s", res(syscall(__NR_keyctl, 0, 0, 0, 0, 0)));
    printf(" unshare=%s", res(syscall(__NR_unshare, CLONE_NEWNS)));
    /* aarch64's clone: flags, stack, parent_tid, tls, child_tid. */
    long kid = syscall(__NR_clone, CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0);
    if (kid == 0)
        _exit(0);
    printf(" clone_newuts=%s", res(kid));
    if (kid > 0)
        waitpid((pid_t)kid, NULL, 0);
    printf(" clone3=%s", res(syscall(__NR_clone3, NULL, 0)));
    printf(" vsock=%s", res(syscall(__NR_socket, AF_VSOCK, SOCK_STREAM, 0)));
    printf(" persona=%s", res(syscall(__NR_personality, ADDR_NO_RANDOMIZE)));
    printf(" mseal=%s", res(syscall(NR_MSEAL, 0, 0, 0)));
    printf(" bpf=%s", res(syscall(__NR_bpf, 0, NULL, 0)));
    long s = syscall(__NR_socket, AF_UNIX, SOCK_STREAM, 0);
    printf(" unix=%s", res(s));
    if (s >= 0)
        close((int)s);
    kid = syscall(__NR_clone, SIGCHLD, 0, 0, 0, 0);   /* fork: clone without namespace flags */
    if (kid == 0)
        _exit(0);
    int st = -1;
    printf(" fork=%s\n", kid > 0 && waitpid((pid_t)kid, &st, 0) == kid && WIFEXITED(st) ? "ok" : res(kid));
    return 0;
}
