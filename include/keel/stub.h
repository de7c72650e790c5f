/* stub.h — the exec stub: the last program keel's processes run before a
 * container's command (the CVE-2019-5736 defence without a copy of keel).
 *
 * A process of keel that is about to run a container's command (the setup
 * child of a start, the helper of `keel exec` or of a health check) never
 * execve()s that command itself: its /proc/self/exe is keel's binary, and a
 * command `#!/proc/self/exe` would make the kernel run keel's binary inside
 * the container, where its processes could open /proc/PID/exe of it.  It
 * execveat()s the stub instead: a ~400-byte static program without libc,
 * written into a sealed memfd for each start or exec (stub_create), whose
 * only work is
 *
 *     [read(RELEASE_FD, &byte, 1); fcntl(RELEASE_FD, F_SETFD, FD_CLOEXEC);]   // a standby only
 *     fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC);   // the report channel ends at its execve
 *     execve(argv[1], argv + 1, envp);
 *     writev(REPORT_FD, {step, errno} + argv[1]); exit_group(127);   // only on failure
 *
 * so the process that runs the command (and a `#!/proc/self/exe` script's
 * interpreter) has the sealed stub as its exe, never a file of the host.  The
 * stub's argv[0] is REPORT_FD in decimal, or "REPORT_FD,RELEASE_FD" for a
 * standby (docs/operations.md, "Standby"), which waits in the stub, not in
 * keel's code: its release costs one read and one execve, and while it waits
 * it holds no copy of keel's memory.  EOF at the read (keel discarded the
 * standby or is gone) exits 127 without a report.  With anything else in
 * argv[0] (run as an interpreter, by hand) it exits 126 at once.  It needs
 * fcntl and execve from the seccomp filter installed before it (read for a
 * standby; writev and exit_group to report a failure).  What keeps keel's own
 * binary out of reach until the stub runs is the caller's business: see
 * docs/security.md.
 *
 * Between its two execs the stub holds the report fd (and a standby's release
 * fd), and an exec makes a process dumpable again: the container's root (same
 * PID namespace, same uid) could open /proc/PID/fd/N of it or pidfd_getfd it,
 * holding the stub still with SIGSTOP.  So the memfd is execute-only
 * (STUB_MODE) and the caller execs it without CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH in its effective set (caps_apply): an exec of a file its
 * caller cannot read gives a non-dumpable process from the first instruction
 * (the kernel's would_dump()), whose mm belongs to a user namespace privileged
 * over the file, the initial one for a container with its own, so only
 * CAP_SYS_PTRACE there reaches it.  The command's exec is an ordinary one: it
 * is dumpable as before, and the exec gives back the effective set.
 *
 * Contract: stub_create() returns a new fd (CLOEXEC, at least STUB_FD_MIN)
 * the caller owns, or -errno with err filled; stub_argv() returns a NULL-ended
 * vector in one allocation (free()) or NULL; stub_exec() returns only on
 * failure, -errno.
 */
#ifndef KEEL_STUB_H
#define KEEL_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keel/err.h"

/* What the stub writes to the report fd when it fails, in one writev: this
 * header, then the path it could not execute (at most STUB_PATH_MAX bytes,
 * no NUL).  `step` is negative, so it cannot be mistaken for a setup child's
 * record (which starts with a positive errno and is longer). */
struct stub_report {
    int32_t step;   /* STUB_STEP_* */
    int32_t code;   /* errno */
};
#define STUB_PATH_MAX 400
enum { STUB_STEP_CLOEXEC = -1, STUB_STEP_EXEC = -2, STUB_STEP_RELEASE = -3 };

/* A new sealed memfd holding the stub, for one start or exec; the caller
 * closes it once the child is forked.  Never one for the whole process: a
 * sealed memfd can still be opened for writing (only writes fail), and a
 * process that holds such an fd makes every execve of that inode fail with
 * ETXTBSY.  A container reaches a stub's inode through /proc/PID/exe of a
 * process that runs it (a `#!/proc/self/exe` script's interpreter): with one
 * stub per process it could block every later start and exec; with one per
 * use it holds only an inode nobody executes again.  MFD_EXEC: a kernel whose
 * vm.memfd_noexec forbids executable memfds refuses here, not at the exec. */
int stub_create(struct kerr *err);

/* The stub memfd's mode: execute only (the kernel reads the file itself). */
#define STUB_MODE 0111

/* Its number is at least this: above every fd number a setup list moves
 * something to (stdio, EXEC_USERNS_FD, `ready = fd:N` with N <= 255). */
#define STUB_FD_MIN 300

/* { "REPORT_FD", argv[0], argv[1], ..., NULL }, or { "REPORT_FD,RELEASE_FD",
 * ... } when RELEASE_FD >= 0 (a standby: the stub waits for one byte on it
 * first): built before the seccomp filter goes in (the allocation makes
 * system calls). */
char **stub_argv(int report_fd, int release_fd, char *const *argv);

/* execveat(fd, "", sargv, envp, AT_EMPTY_PATH). */
int stub_exec(int fd, char *const *sargv, char *const *envp);

/* Whether BUF (N bytes read from a report channel) is a stub's record: then
 * err says "cannot execute PATH: why". */
bool stub_report_decode(const void *buf, size_t n, struct kerr *err);

/* The stub's image, for tests. */
const unsigned char *stub_image(size_t *len);

#endif
