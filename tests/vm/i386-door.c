/* i386-door.c — the i386 system call door (int 0x80) seen from a container
 * under keel's default seccomp filter.  tests/vm/test_boot.sh runs it in a
 * default container on the guest's kernel (Debian's, with ia32 emulation),
 * so the filter's i386 rules are tested whatever the build machine's kernel
 * has (tests/unit/test_seccomp.c can only check that door where it is open).
 * Prints one line: "i386: NAME=RESULT ...", RESULT an errno name or "ok". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static long int80(long nr, long a, long b, long c)
{
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

static const char *res(long r)
{
    switch (r) {
    case -EPERM: return "EPERM";
    case -ENOSYS: return "ENOSYS";
    case -EFAULT: return "EFAULT";
    case -EINVAL: return "EINVAL";
    case -EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return r < 0 ? "error" : "ok";
    }
}

int main(void)
{
    signal(SIGSEGV, SIG_DFL);   /* no ia32 emulation: die of the fault, say nothing */
    printf("i386: getpid=%s", int80(20, 0, 0, 0) == (long)getpid() ? "ok" : "wrong");
    printf(" keyctl=%s", res(int80(288, 0, 0, 0)));
    printf(" unshare=%s", res(int80(310, 0x00020000 /* CLONE_NEWNS */, 0, 0)));
    printf(" socketcall=%s", res(int80(102, 1 /* SYS_SOCKET */, 0, 0)));
    printf(" vsock=%s", res(int80(359, AF_VSOCK, SOCK_STREAM, 0)));
    printf(" persona=%s", res(int80(136, ADDR_NO_RANDOMIZE, 0, 0)));
    printf(" unix=%s\n", res(int80(359, AF_UNIX, SOCK_STREAM, 0)));
    return 0;
}
