/* probe.c — the payload of keel's test containers.
 *
 * A small static program (no libc NSS, no shared libraries) that prints facts
 * a test asserts on, one per line, as `key=value`, so a test greps keel's
 * output (`NAME | key=value`) or the container's log file.  Like crun's
 * tests/init.c, but several subcommands chain in one invocation, because a
 * process spawn costs ~28 ms in a TCG guest:
 *
 *     probe hostname pid status ids cwd sleep inf
 *
 * Each subcommand consumes its own arguments.  A subcommand that fails to do
 * what it tries reports the errno name in its value (`write:/x=EROFS`), it
 * does not stop the chain; only a malformed command line exits with 64.
 * stdout is line-buffered so lines appear while the probe keeps running.
 *
 * Subcommands (value formats are part of the tests' contract):
 *   pid                 pid=N ppid=N (two lines)
 *   status              CapInh= CapPrm= CapEff= CapBnd= CapAmb= NoNewPrivs=
 *                       Seccomp= SigBlk= SigIgn= NSpid= (from /proc/self/status)
 *   ids                 uid= gid= euid= egid= groups=G1,G2 (sorted, "" if none)
 *   hostname            hostname=NAME
 *   cwd                 cwd=PATH
 *   env                 env.KEY=VALUE for every variable
 *   fds                 fds=0,1,2 (open fds, the scan's own fd excluded), fd.N=TARGET
 *   mounts              mount=MOUNTPOINT FSTYPE OPTIONS for each line of /proc/self/mounts
 *   cgroup              cgroup=LINE for each line of /proc/self/cgroup
 *   ls DIR              ls:DIR=a,b,c (sorted, without . and ..) or ls:DIR=ERRNO
 *   stat PATH           stat:PATH=TYPE MODE UID:GID [MAJ:MIN] (lstat) or ERRNO
 *   readlink PATH       readlink:PATH=TARGET or ERRNO
 *   write PATH          create/truncate PATH and write "probe\n": write:PATH=ok|ERRNO
 *   wopen PATH          only open PATH for writing (O_WRONLY, no create, nothing
 *                       written): wopen:PATH=ok|ERRNO.  Use it on kernel knobs
 *                       (/proc/sys/..., sysrq-trigger) so that a test that finds
 *                       a hole never changes the host.
 *   read PATH           read:PATH=ok|ERRNO, bytes:PATH=N (at most 1 MiB read),
 *                       data:PATH=FIRST LINE (escaped, at most 200 bytes)
 *   mkdir PATH          mkdir:PATH=ok|ERRNO
 *   mknod PATH          mknod of a block device 8:0: mknod:PATH=ok|ERRNO
 *   count PATH          append a line to PATH, count:PATH=LINES (a run counter
 *                       that survives restarts when PATH is on the upper layer)
 *   print TEXT          TEXT (a marker line)
 *   time                mono=SECONDS.MICROS (CLOCK_MONOTONIC, keel's log clock)
 *   zombies             zombies=N (zombie processes visible in /proc)
 *   orphans N           double-fork N orphans that exit, reap until no child is
 *                       left: orphans=N reaped=M
 *   spawn N             fork N children that sleep forever and are never waited
 *                       for: spawned=N (with `exit`, leaves them to the kernel
 *                       and keel)
 *   sleep SECONDS       fractional; "inf" sleeps forever
 *   exit CODE           exit now with CODE
 *   raise SIGNAL        kill itself with SIGNAL (name without SIG, or number),
 *                       with the default action restored first
 *   segv                die of a real SIGSEGV (a fault is delivered even to
 *                       PID 1 of a namespace, which ignores its own kill())
 *   ignore SIGNAL       set SIGNAL to SIG_IGN (e.g. a container that ignores
 *                       its stop signal, to exercise stop_timeout)
 *   trap SIGNAL         on SIGNAL print trapped=SIGNAME and exit 0
 *   spin                busy loop forever
 *   fork-bomb           fork forever (only for cgroup-limited VM tests)
 *   alloc MB            allocate and touch MB MiB: alloc=MB
 *   notify              sd_notify READY=1 to $NOTIFY_SOCKET: notify=ok|ERRNO
 *   listen tcp|udp PORT echo server on 0.0.0.0:PORT, forever: listening=PROTO:PORT
 *   connect HOST PORT   TCP to HOST (IPv4, or a name in /etc/hosts): send "ping\n", read the reply:
 *                       connect:HOST:PORT=ok reply=LINE | ERRNO
 *   splice-hold SECONDS splice from an empty socket into stdout (a pipe's mutex held that long): splice=ok|ERRNO
 *   icmp HOST           ICMP echo through a datagram socket (ping without CAP_NET_RAW): icmp:HOST=ok|ERRNO
 *   connect-udp HOST PORT  the same over UDP (2 s timeout)
 *   flood BYTES         write BYTES bytes of lines to stdout, then flood=done on stderr
 *   fuse-hang DIR       (run outside containers, as root) mount a FUSE file system at DIR
 *                       and serve it, forever: DIR/d is an empty directory, DIR/f a file
 *                       holding "fuse-secret\n", every entry and attribute valid for 0 s
 *                       (each path walk asks the server).
 *                       fuse=mounted once mounted.  After SIGUSR1 the next request is
 *                       read and left unanswered (fuse.held=OPCODE), the later ones are
 *                       served: its caller sleeps uninterruptibly, and SIGKILL ends it
 *                       only after the answer.  SIGUSR2 answers every request held
 *                       (fuse.released=N).
 *   pipe-grab SECONDS [forge]
 *                       the attacker of another process's pipes: for SECONDS (or
 *                       until SIGUSR1) scans /proc/[0-9]*\/fd/N of every other
 *                       process and opens each pipe it can for writing
 *                       (O_NONBLOCK), keeping one fd per pipe (up to 64) until the
 *                       probe exits; a process whose name is neither keel nor
 *                       probe (an exec stub) is stopped (SIGSTOP) while its fds
 *                       are tried, then continued.  With `forge`, the first pipe
 *                       kept is sent an exec stub's failure record whose path is
 *                       "\e]2;pwned\a\e[2J" (escape sequences).  Prints
 *                       pipe-grab.pipe=K as the K-th is kept, pipe-grab.kept=N at
 *                       the end, and holds them until it exits (chain `sleep inf`).
 *                       Once per process, while it is stopped: for an exec stub
 *                       (argv[0] its report fd's digits, stub.h)
 *                       pipe-grab.stub=ARGV1:fd=R,getfd=R, R `open` when an fd of
 *                       it opened (/proc/PID/fd/N; pidfd_getfd of the report fd),
 *                       else the errno of the first refusal; for any other
 *                       process but keel and probes pipe-grab.other=COMM:R, R
 *                       `open` when one of its fds opened, else the errno
 *   lease PATH          create PATH, open it read-write and take a write lease on it
 *                       (F_SETLEASE F_WRLCK; SIGIO, the lease-break signal,
 *                       ignored, and the lease never given up): lease:PATH=ok|ERRNO.
 *                       Another process's blocking open of PATH waits for the
 *                       kernel's fs.lease-break-time (45 s by default); a
 *                       non-blocking one fails at once (EWOULDBLOCK)
 *   lease-fresh PATH    the same on a PATH removed and made anew, retried while
 *                       someone else opens the new file first (EAGAIN)
 *   stderr TEXT         TEXT on stderr
 *   tty                 the controlling terminal as an attacker sees it:
 *                       tty.open=ok|ERRNO (open("/dev/tty")), tty.sid_leader=1|0
 *                       (getsid(0) == getpid()), tty.isatty=FDS (held fds that are
 *                       terminals, /dev/tty's included) and tty.tiocsti=FDS (those
 *                       where TIOCSTI of one space succeeded), "none" when empty
 *   exe-attack SECONDS  the CVE-2019-5736 attacker, for SECONDS: scans /proc/[0-9]*\/exe
 *                       of every other process, tries open(O_WRONLY) (never writes,
 *                       never truncates) and open(O_RDONLY) + reading 4 bytes, keeps
 *                       an O_PATH handle on each distinct binary it could open and
 *                       tries to re-open those O_WRONLY through /proc/self/fd on every
 *                       scan (the exploit's way round ETXTBSY once the process is gone);
 *                       the first write-open of each sealed one is kept to the end
 *                       (up to 16: a writer blocks every later execve of that inode);
 *                       scans are 1 ms apart.  SIGUSR1 ends it early (after the
 *                       scan under way): a test stops it once what it had to
 *                       outlast is done, instead of waiting out SECONDS.
 *                       "Foreign" binaries are those that are not the file their link
 *                       names inside this root (keel's own binary would be one).  Prints
 *                       exe-attack.scans= tries= rdopen_ok= read_ok= wopen_ok=
 *                       reopen_ok= foreign_seen= foreign_wopen_ok= foreign_reopen_ok=
 *                       denied= (EACCES/EPERM) busy= (ETXTBSY) sealed= (opened, but a
 *                       memfd sealed against writes: not counted as a write-open),
 *                       wkept= (write-opens of sealed files kept), and
 *                       exe-attack.foreign=PATH,... (at most 8)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "EUNKNOWN";
}

static void usage(const char *msg, const char *arg)
{
    fprintf(stderr, "probe: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(64);
}

static const char *need(char **argv, int *i)
{
    if (!argv[*i + 1])
        usage("missing argument for", argv[*i]);
    return argv[++*i];
}

static long need_num(char **argv, int *i)
{
    const char *s = need(argv, i);
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        usage("not a number", s);
    return v;
}

/* Prints `s` with control bytes and backslashes escaped, at most `max` bytes. */
static void put_escaped(const char *s, size_t len, size_t max)
{
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            fputs("\\\\", stdout);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

/* ---- facts ------------------------------------------------------------- */

static void cmd_status(void)
{
    static const char *keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                                  "Seccomp", "SigBlk", "SigIgn", "NSpid", NULL };
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) {
        printf("status=%s\n", errname(errno));
        return;
    }
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        for (int k = 0; keys[k]; k++) {
            if (strcmp(line, keys[k]) != 0)
                continue;
            char *v = colon + 1;
            v += strspn(v, " \t");
            v[strcspn(v, "\n")] = '\0';
            for (char *t = v; *t; t++)      /* NSpid is tab-separated */
                if (*t == '\t')
                    *t = ' ';
            printf("%s=%s\n", keys[k], v);
        }
    }
    fclose(f);
}

static void cmd_ids(void)
{
    printf("uid=%u\ngid=%u\neuid=%u\negid=%u\n", getuid(), getgid(), geteuid(), getegid());
    gid_t g[NGROUPS_MAX];
    int n = getgroups(NGROUPS_MAX, g);
    if (n < 0) {
        printf("groups=%s\n", errname(errno));
        return;
    }
    long sorted[NGROUPS_MAX];
    for (int i = 0; i < n; i++)
        sorted[i] = g[i];
    qsort(sorted, (size_t)n, sizeof(sorted[0]), cmp_long);
    fputs("groups=", stdout);
    for (int i = 0; i < n; i++)
        printf("%s%ld", i ? "," : "", sorted[i]);
    putchar('\n');
}

static void cmd_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        printf("fds=%s\n", errname(errno));
        return;
    }
    long fds[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        if (e->d_name[0] == '.')
            continue;
        long fd = strtol(e->d_name, NULL, 10);
        if (fd == dirfd(d))
            continue;
        fds[n++] = fd;
    }
    closedir(d);
    qsort(fds, n, sizeof(fds[0]), cmp_long);
    fputs("fds=", stdout);
    for (size_t i = 0; i < n; i++)
        printf("%s%ld", i ? "," : "", fds[i]);
    putchar('\n');
    for (size_t i = 0; i < n; i++) {
        char path[64], target[PATH_MAX];
        snprintf(path, sizeof(path), "/proc/self/fd/%ld", fds[i]);
        ssize_t len = readlink(path, target, sizeof(target) - 1);
        if (len < 0)
            printf("fd.%ld=%s\n", fds[i], errname(errno));
        else
            printf("fd.%ld=%.*s\n", fds[i], (int)len, target);
    }
}

static void cmd_lines(const char *key, const char *path, int fields)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        printf("%s=%s\n", key, errname(errno));
        return;
    }
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (fields) {
            /* /proc/self/mounts: DEV MOUNTPOINT TYPE OPTIONS 0 0 -> MOUNTPOINT TYPE OPTIONS */
            char *dev = strtok(line, " "), *mp = strtok(NULL, " "), *type = strtok(NULL, " "),
                 *opts = strtok(NULL, " ");
            if (dev && mp && type && opts)
                printf("%s=%s %s %s\n", key, mp, type, opts);
        } else {
            printf("%s=%s\n", key, line);
        }
    }
    fclose(f);
}

static void cmd_ls(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("ls:%s=%s\n", dir, errname(errno));
        return;
    }
    char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        names[n] = strdup(e->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    printf("ls:%s=", dir);
    for (size_t i = 0; i < n; i++) {
        printf("%s%s", i ? "," : "", names[i]);
        free(names[i]);
    }
    putchar('\n');
}

static void cmd_stat(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        printf("stat:%s=%s\n", path, errname(errno));
        return;
    }
    const char *type = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir"
                     : S_ISLNK(st.st_mode) ? "symlink" : S_ISCHR(st.st_mode) ? "chr"
                     : S_ISBLK(st.st_mode) ? "blk" : S_ISFIFO(st.st_mode) ? "fifo"
                     : S_ISSOCK(st.st_mode) ? "sock" : "other";
    printf("stat:%s=%s %04o %u:%u", path, type, st.st_mode & 07777, st.st_uid, st.st_gid);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
        printf(" %u:%u", major(st.st_rdev), minor(st.st_rdev));
    putchar('\n');
}

static void cmd_readlink(const char *path)
{
    char target[PATH_MAX];
    ssize_t len = readlink(path, target, sizeof(target) - 1);
    if (len < 0)
        printf("readlink:%s=%s\n", path, errname(errno));
    else
        printf("readlink:%s=%.*s\n", path, (int)len, target);
}

static void cmd_hostname(void)
{
    char name[256];
    if (gethostname(name, sizeof(name)) < 0)
        printf("hostname=%s\n", errname(errno));
    else
        printf("hostname=%s\n", name);
}

static void cmd_cwd(void)
{
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof(buf)))
        printf("cwd=%s\n", errname(errno));
    else
        printf("cwd=%s\n", buf);
}

static void cmd_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("mono=%lld.%06ld\n", (long long)ts.tv_sec, ts.tv_nsec / 1000);
}

static void cmd_zombies(void)
{
    DIR *d = opendir("/proc");
    if (!d) {
        printf("zombies=%s\n", errname(errno));
        return;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        char *paren = strrchr(buf, ')');   /* comm may contain spaces */
        if (paren && paren[1] == ' ' && paren[2] == 'Z')
            n++;
    }
    closedir(d);
    printf("zombies=%d\n", n);
}

/* ---- files ------------------------------------------------------------- */

static void cmd_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        printf("write:%s=%s\n", path, errname(errno));
        return;
    }
    int e = 0;
    if (write(fd, "probe\n", 6) != 6)
        e = errno ? errno : EIO;
    if (close(fd) < 0 && !e)
        e = errno;
    printf("write:%s=%s\n", path, e ? errname(e) : "ok");
}

static void cmd_wopen(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        printf("wopen:%s=%s\n", path, errname(errno));
        return;
    }
    close(fd);
    printf("wopen:%s=ok\n", path);
}

static void cmd_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        printf("read:%s=%s\n", path, errname(errno));
        return;
    }
    static char buf[1 << 20];
    size_t total = 0;
    int e = 0;
    while (total < sizeof(buf)) {
        ssize_t r = read(fd, buf + total, sizeof(buf) - total);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            break;
        }
        if (r == 0)
            break;
        total += (size_t)r;
    }
    close(fd);
    printf("read:%s=%s\n", path, e ? errname(e) : "ok");
    printf("bytes:%s=%zu\n", path, total);
    size_t first = 0;
    while (first < total && buf[first] != '\n')
        first++;
    printf("data:%s=", path);
    put_escaped(buf, first, 200);
    putchar('\n');
}

static void cmd_mkdir(const char *path)
{
    printf("mkdir:%s=%s\n", path, mkdir(path, 0755) < 0 ? errname(errno) : "ok");
}

static void cmd_mknod(const char *path)
{
    /* 8:0 is sda: a block device no container may create. */
    printf("mknod:%s=%s\n", path, mknod(path, S_IFBLK | 0600, makedev(8, 0)) < 0 ? errname(errno) : "ok");
}

static void cmd_count(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        printf("count:%s=%s\n", path, errname(errno));
        return;
    }
    if (write(fd, "x\n", 2) != 2) {
        printf("count:%s=%s\n", path, errname(errno));
        close(fd);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        printf("count:%s=%s\n", path, errname(errno));
    else
        printf("count:%s=%lld\n", path, (long long)st.st_size / 2);
    close(fd);
}

/* ---- processes --------------------------------------------------------- */

static pid_t fork_retry(void)
{
    for (int tries = 0;; tries++) {
        fflush(NULL);
        pid_t p = fork();
        if (p >= 0 || errno != EAGAIN || tries > 1000)
            return p;
        usleep(1000);
    }
}

/* Double-forks n orphans.  Each intermediate child forks a grandchild and
 * exits at once; the grandchild waits until it has been reparented (its
 * parent is gone) and then exits, so it dies an orphan.
 *
 * Who reaps the orphans: inside a container the probe is PID 1 of its PID
 * namespace, so the kernel reparents the orphans to the probe itself and it
 * must reap them, as any container init must (keel does not put an init of
 * its own into containers).  Run outside a container, the probe makes itself
 * a child subreaper so the orphans still come back to it and the count holds.
 * It then waits until it has no child left (ECHILD): every intermediate and
 * every orphan reaped, no zombie of its making left behind. */
static void cmd_orphans(long n)
{
    if (getpid() != 1)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    long made = 0, reaped = 0;
    for (long i = 0; i < n; i++) {
        pid_t p = fork_retry();
        if (p < 0)
            break;
        if (p == 0) {
            pid_t parent = getpid();
            pid_t g = fork_retry();
            if (g == 0) {
                while (getppid() == parent)
                    usleep(100);
                _exit(0);
            }
            _exit(g < 0 ? 1 : 0);
        }
        made++;
        /* Reap as we go so a big N never hits the process limit. */
        while (waitpid(-1, NULL, WNOHANG) > 0)
            reaped++;
    }
    for (;;) {
        pid_t p = waitpid(-1, NULL, 0);
        if (p > 0) {
            reaped++;
            continue;
        }
        if (errno == EINTR)
            continue;
        break;   /* ECHILD: nothing left */
    }
    /* reaped counts intermediates and orphans: 2 per orphan made. */
    printf("orphans=%ld\nreaped=%ld\n", made, reaped / 2);
}

static void cmd_spawn(long n)
{
    long made = 0;
    for (long i = 0; i < n; i++) {
        pid_t p = fork_retry();
        if (p < 0)
            break;
        if (p == 0) {
            for (;;)
                pause();
        }
        made++;
    }
    printf("spawned=%ld\n", made);
}

static int parse_signal(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end != s && !*end && v > 0 && v < NSIG)
        return (int)v;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (int sig = 1; sig < NSIG; sig++) {
        const char *abbr = sigabbrev_np(sig);
        if (abbr && strcmp(abbr, s) == 0)
            return sig;
    }
    usage("unknown signal", s);
    return 0;
}

static void on_trap(int sig)
{
    char msg[64];
    const char *abbr = sigabbrev_np(sig);
    int len = snprintf(msg, sizeof(msg), "trapped=SIG%s\n", abbr ? abbr : "?");
    if (write(STDOUT_FILENO, msg, (size_t)len) < 0) {
        /* nothing to do: exiting anyway */
    }
    _exit(0);
}

/* sendfile(2)s from a socket that never gets data into stdout, for at most
 * SECONDS: into a pipe that blocks (holding the pipe's mutex); into keel's
 * socket pair it fails at once with EINVAL.  Prints what sendfile said. */
static void cmd_splice_hold(long seconds)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        printf("splice=%s\n", errname(errno));
        return;
    }
    fflush(NULL);
    alarm((unsigned)seconds);
    signal(SIGALRM, SIG_IGN);
    struct sigaction sa = { .sa_handler = SIG_DFL };
    sigaction(SIGALRM, &sa, NULL);
    /* sendfile(2) from a socket, as busybox cat does: the kernel splices
     * through the destination pipe and keeps its lock while it waits. */
    ssize_t r = sendfile(1, sv[0], NULL, 4096);
    printf("splice=%s\n", r < 0 ? errname(errno) : "ok");
    close(sv[0]);
    close(sv[1]);
}

static void cmd_sleep(const char *s)
{
    fflush(NULL);
    if (strcmp(s, "inf") == 0) {
        for (;;)
            pause();
    }
    char *end;
    double secs = strtod(s, &end);
    if (end == s || *end || secs < 0)
        usage("bad duration", s);
    struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void cmd_alloc(long mb)
{
    size_t len = (size_t)mb << 20;
    char *p = malloc(len);
    if (!p) {
        printf("alloc=%s\n", errname(errno));
        return;
    }
    for (size_t i = 0; i < len; i += 4096)
        p[i] = 1;
    printf("alloc=%ld\n", mb);
    /* Kept on purpose: the memory must stay charged. */
}

static void cmd_notify(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) {
        printf("notify=no-socket\n");
        return;
    }
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t len = strlen(path);
    if (len >= sizeof(sa.sun_path)) {
        printf("notify=ENAMETOOLONG\n");
        return;
    }
    memcpy(sa.sun_path, path, len);
    if (sa.sun_path[0] == '@')      /* abstract socket, as sd_notify() does */
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        printf("notify=%s\n", errname(errno));
        return;
    }
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    ssize_t r = sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    printf("notify=%s\n", r < 0 ? errname(errno) : "ok");
    close(fd);
}

/* ---- network ----------------------------------------------------------- */

/* Looks NAME up in the container's /etc/hosts (a static binary has no NSS). */
static int hosts_lookup(const char *name, struct in_addr *out)
{
    FILE *f = fopen("/etc/hosts", "re");
    if (!f)
        return -1;
    char line[512];
    int found = -1;
    while (found < 0 && fgets(line, sizeof(line), f)) {
        char *save = NULL, *addr = strtok_r(line, " \t\n", &save);
        if (!addr || addr[0] == '#' || inet_pton(AF_INET, addr, out) != 1)
            continue;
        for (char *n = strtok_r(NULL, " \t\n", &save); n; n = strtok_r(NULL, " \t\n", &save))
            if (strcmp(n, name) == 0)
                found = 0;
    }
    fclose(f);
    return found;
}

static int parse_addr(const char *host, long port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
        return 0;
    return hosts_lookup(host, &sa->sin_addr);
}

/* An ICMP echo through a datagram ICMP socket: what ping does without
 * CAP_NET_RAW, allowed by net.ipv4.ping_group_range. */
static void cmd_icmp(const char *host)
{
    struct sockaddr_in sa;
    if (parse_addr(host, 0, &sa) < 0) {
        printf("icmp:%s=ENOENT\n", host);
        return;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
    if (fd < 0) {
        printf("icmp:%s=%s\n", host, errname(errno));
        return;
    }
    struct timeval tv = { 1, 0 };
    unsigned char req[16] = { 8, 0, 0, 0, 0, 0, 0, 1 }, rep[64];
    ssize_t r = -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
        sendto(fd, req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)sizeof(req))
        r = recv(fd, rep, sizeof(rep), 0);
    if (r > 0 && rep[0] == 0)
        printf("icmp:%s=ok\n", host);
    else
        printf("icmp:%s=%s\n", host, r < 0 ? errname(errno) : "EPROTO");
    close(fd);
}

static void cmd_listen(const char *proto, long port)
{
    int udp = strcmp(proto, "udp") == 0;
    if (!udp && strcmp(proto, "tcp") != 0)
        usage("listen wants tcp or udp", proto);
    int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa;
    parse_addr("0.0.0.0", port, &sa);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || (!udp && listen(fd, 64) < 0)) {
        printf("listening=%s\n", errname(errno));
        return;
    }
    printf("listening=%s:%ld\n", proto, port);
    fflush(NULL);
    signal(SIGPIPE, SIG_IGN);
    char buf[4096];
    for (;;) {
        if (udp) {
            struct sockaddr_in peer;
            socklen_t plen = sizeof(peer);
            ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen);
            if (r > 0)
                sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&peer, plen);
            continue;
        }
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        ssize_t r;
        while ((r = read(c, buf, sizeof(buf))) > 0)
            if (write(c, buf, (size_t)r) != r)
                break;
        close(c);
    }
}

static void cmd_connect(const char *host, long port, int udp)
{
    const char *key = udp ? "connect-udp" : "connect";
    struct sockaddr_in sa;
    if (parse_addr(host, port, &sa) < 0) {
        printf("%s:%s:%ld=EINVAL\n", key, host, port);
        return;
    }
    int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    struct timeval tv = { 2, 0 };
    char buf[256];
    ssize_t r = -1;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0 &&
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && send(fd, "ping\n", 5, MSG_NOSIGNAL) == 5)
        r = recv(fd, buf, sizeof(buf) - 1, 0);
    if (r < 0 || (r == 0 && (errno = ECONNRESET)))
        printf("%s:%s:%ld=%s\n", key, host, port, errname(errno));
    else {
        buf[r] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        printf("%s:%s:%ld=ok reply=%s\n", key, host, port, buf);
    }
    if (fd >= 0)
        close(fd);
}

static void cmd_flood(long bytes)
{
    static const char line[] = "flood flood flood flood flood flood flood flood flood flood flood\n";
    fflush(NULL);
    long left = bytes;
    while (left > 0) {
        size_t n = left < (long)sizeof(line) - 1 ? (size_t)left : sizeof(line) - 1;
        ssize_t w = write(STDOUT_FILENO, line + (sizeof(line) - 1 - n), n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        left -= w;
    }
    fprintf(stderr, "flood=done\n");
}

/* ---- main ---------------------------------------------------------------- */

/* exe-attack: see the top of the file.  Nothing is ever written: an
 * O_WRONLY open without O_TRUNC changes no byte, and is closed at once. */
struct exe_handle {
    dev_t dev;
    ino_t ino;
    int fd;          /* O_PATH */
    bool foreign;
    bool wkept;      /* a write-open of it is kept (sealed files) */
};

static bool exe_foreign(const char *link, const struct stat *st)
{
    char target[PATH_MAX];
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
        return true;
    target[n] = '\0';
    struct stat here;
    return stat(target, &here) < 0 || here.st_dev != st->st_dev || here.st_ino != st->st_ino;
}

/* A sealed memfd (a runtime running from a sealed copy of itself) opens for
 * writing, but no byte of it can be changed: not a write-open that counts. */
static bool exe_sealed(int fd)
{
    int seals = fcntl(fd, F_GET_SEALS);
    return seals > 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));
}

static volatile sig_atomic_t exe_attack_stop;

static void on_exe_attack_stop(int sig)
{
    (void)sig;
    exe_attack_stop = 1;
}

static void cmd_exe_attack(const char *secs)
{
    char *end;
    double limit = strtod(secs, &end);
    if (end == secs || *end || limit <= 0)
        usage("not a duration", secs);
    struct sigaction stop = { .sa_handler = on_exe_attack_stop };
    if (sigaction(SIGUSR1, &stop, NULL) < 0) {
        printf("exe-attack=%s\n", errname(errno));
        return;
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    static struct exe_handle held[64];
    size_t n_held = 0;
    int wkept[16];
    size_t n_wkept = 0;
    unsigned long scans = 0, tries = 0, rdopen_ok = 0, read_ok = 0, wopen_ok = 0, reopen_ok = 0;
    unsigned long foreign_seen = 0, foreign_wopen_ok = 0, foreign_reopen_ok = 0, denied = 0, busy = 0, sealed = 0;
    char foreign_names[8][128];
    size_t n_foreign = 0;
    pid_t self = getpid();
    do {
        DIR *d = opendir("/proc");
        if (!d) {
            printf("exe-attack=%s\n", errname(errno));
            return;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] < '1' || e->d_name[0] > '9' || atoi(e->d_name) == self)
                continue;
            char link[300];
            snprintf(link, sizeof link, "/proc/%s/exe", e->d_name);
            tries++;
            int w = open(link, O_WRONLY | O_CLOEXEC | O_NOCTTY);
            int werr = errno;
            int r = open(link, O_RDONLY | O_CLOEXEC | O_NOCTTY);
            int rerr = errno;
            struct stat st;
            bool foreign = false, known = false;
            if (r >= 0 && fstat(r, &st) == 0) {
                rdopen_ok++;
                char magic[4];
                if (read(r, magic, sizeof magic) == (ssize_t)sizeof magic)
                    read_ok++;
                foreign = exe_foreign(link, &st);
                for (size_t k = 0; k < n_held; k++)
                    if (held[k].dev == st.st_dev && held[k].ino == st.st_ino)
                        known = true;
                if (!known && foreign) {
                    foreign_seen++;
                    char target[128];
                    ssize_t n = readlink(link, target, sizeof target - 1);
                    if (n < 0)
                        n = 0;
                    target[n] = '\0';
                    if (n_foreign < 8)
                        snprintf(foreign_names[n_foreign++], sizeof foreign_names[0], "%s", target);
                }
                if (!known && n_held < sizeof held / sizeof held[0]) {
                    int p = open(link, O_PATH | O_CLOEXEC);
                    if (p >= 0)
                        held[n_held++] = (struct exe_handle){ st.st_dev, st.st_ino, p, foreign, false };
                }
            }
            if (w >= 0 && exe_sealed(w)) {
                sealed++;
                close(w);
            } else if (w >= 0) {
                wopen_ok++;
                if (r < 0 || foreign)
                    foreign_wopen_ok++;   /* writable, and not known to be this root's own file */
                close(w);
            } else if (werr == EACCES || werr == EPERM) {
                denied++;
            } else if (werr == ETXTBSY) {
                busy++;
            }
            if (r >= 0)
                close(r);
            else if (rerr == EACCES || rerr == EPERM)
                denied++;
        }
        closedir(d);
        for (size_t k = 0; k < n_held; k++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/self/fd/%d", held[k].fd);
            int w = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
            if (w >= 0 && exe_sealed(w)) {
                /* Writes fail, but the open counts as a writer: kept, it
                 * makes every execve of that inode fail with ETXTBSY (a
                 * runtime that executes one sealed file again and again
                 * would be blocked for good). */
                sealed++;
                if (n_wkept < sizeof wkept / sizeof wkept[0] && !held[k].wkept) {
                    wkept[n_wkept++] = w;
                    held[k].wkept = true;
                } else {
                    close(w);
                }
            } else if (w >= 0) {
                reopen_ok++;
                if (held[k].foreign)
                    foreign_reopen_ok++;
                close(w);
            }
        }
        scans++;
        /* 1 ms apart: still hundreds of looks at each exec'd process, without
         * starving keel of a CPU on a small machine. */
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (!exe_attack_stop && (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < limit);
    for (size_t k = 0; k < n_held; k++)
        close(held[k].fd);
    printf("exe-attack.scans=%lu\nexe-attack.tries=%lu\nexe-attack.rdopen_ok=%lu\nexe-attack.read_ok=%lu\n"
           "exe-attack.wopen_ok=%lu\nexe-attack.reopen_ok=%lu\nexe-attack.foreign_seen=%lu\n"
           "exe-attack.foreign_wopen_ok=%lu\nexe-attack.foreign_reopen_ok=%lu\nexe-attack.denied=%lu\n"
           "exe-attack.busy=%lu\nexe-attack.sealed=%lu\nexe-attack.wkept=%zu\n",
           scans, tries, rdopen_ok, read_ok, wopen_ok, reopen_ok, foreign_seen, foreign_wopen_ok,
           foreign_reopen_ok, denied, busy, sealed, n_wkept);
    for (size_t k = 0; k < n_wkept; k++)
        close(wkept[k]);
    printf("exe-attack.foreign=");
    for (size_t k = 0; k < n_foreign; k++)
        printf("%s%s", k ? "," : "", foreign_names[k]);
    printf("\n");
}

/* Can this process reach a terminal?  /dev/tty opens only with a controlling
 * terminal; TIOCSTI pushes input into a terminal (the admin's shell, if it is
 * that one).  The space it injects is harmless to a test's own pty. */
static void cmd_tty(void)
{
    int t = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    printf("tty.open=%s\n", t >= 0 ? "ok" : errname(errno));
    printf("tty.sid_leader=%d\n", getsid(0) == getpid());
    char ttys[256] = "", sti[256] = "";
    size_t lt = 0, ls = 0;
    for (int fd = 0; fd < 1024; fd++) {
        if (fcntl(fd, F_GETFD) < 0)
            continue;
        if (isatty(fd))
            lt += (size_t)snprintf(ttys + lt, sizeof ttys - lt, "%s%d", lt ? "," : "", fd);
        char c = ' ';
        if (ioctl(fd, TIOCSTI, &c) == 0)
            ls += (size_t)snprintf(sti + ls, sizeof sti - ls, "%s%d", ls ? "," : "", fd);
        if (lt >= sizeof ttys || ls >= sizeof sti)
            break;
    }
    printf("tty.isatty=%s\ntty.tiocsti=%s\n", lt ? ttys : "none", ls ? sti : "none");
    if (t >= 0)
        close(t);
}


/* --- fuse-hang: a FUSE server that stops answering on request ------------------ */

static volatile sig_atomic_t fuse_hold_req, fuse_release_req;
static void on_fuse_hold(int sig) { (void)sig; fuse_hold_req = 1; }
static void on_fuse_release(int sig) { (void)sig; fuse_release_req = 1; }

static void fuse_reply(int fd, uint64_t unique, int error, const void *arg, size_t len)
{
    struct fuse_out_header h = { .len = (uint32_t)(sizeof h + len), .error = error, .unique = unique };
    struct iovec iov[2] = { { &h, sizeof h }, { (void *)arg, len } };
    if (writev(fd, iov, len ? 2 : 1) < 0 && errno != ENOENT)   /* ENOENT: the request was interrupted */
        fprintf(stderr, "probe: fuse reply: %s\n", strerror(errno));
}

static const char fuse_file[] = "fuse-secret\n";   /* DIR/f, node 3 */

static void fuse_attr_of(uint64_t ino, struct fuse_attr *a)
{
    memset(a, 0, sizeof *a);
    a->ino = ino;
    a->mode = ino == 3 ? S_IFREG | 0644 : S_IFDIR | 0755;
    a->nlink = ino == 3 ? 1 : 2;
    a->size = ino == 3 ? sizeof fuse_file - 1 : 0;
    a->blksize = 4096;
}

/* Answers one request (a copy of what was read) as the file system says. */
static void fuse_answer(int fd, const char *req)
{
    const struct fuse_in_header *h = (const void *)req;
    const char *arg = req + sizeof *h;
    switch (h->opcode) {
    case FUSE_INIT: {
        const struct fuse_init_in *in = (const void *)arg;
        struct fuse_init_out out = { .major = FUSE_KERNEL_VERSION, .max_readahead = in->max_readahead,
                                     .max_background = 16, .congestion_threshold = 12, .max_write = 4096,
                                     .time_gran = 1 };
        out.minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION;
        fuse_reply(fd, h->unique, 0, &out, sizeof out);
        return;
    }
    case FUSE_LOOKUP: {
        uint64_t node = h->nodeid != FUSE_ROOT_ID ? 0 : strcmp(arg, "d") == 0 ? 2 : strcmp(arg, "f") == 0 ? 3 : 0;
        if (!node) {
            fuse_reply(fd, h->unique, -ENOENT, NULL, 0);
            return;
        }
        struct fuse_entry_out e = { .nodeid = node };
        fuse_attr_of(node, &e.attr);
        fuse_reply(fd, h->unique, 0, &e, sizeof e);
        return;
    }
    case FUSE_GETATTR: {
        struct fuse_attr_out a = { 0 };
        fuse_attr_of(h->nodeid, &a.attr);
        fuse_reply(fd, h->unique, 0, &a, sizeof a);
        return;
    }
    case FUSE_OPEN:
    case FUSE_OPENDIR: {
        struct fuse_open_out o = { 0 };
        fuse_reply(fd, h->unique, 0, &o, sizeof o);
        return;
    }
    case FUSE_STATFS: {
        struct fuse_statfs_out st = { .st = { .bsize = 4096, .namelen = 255, .frsize = 4096 } };
        fuse_reply(fd, h->unique, 0, &st, sizeof st);
        return;
    }
    case FUSE_READ: {
        const struct fuse_read_in *in = (const void *)arg;
        size_t off = in->offset < sizeof fuse_file - 1 ? (size_t)in->offset : sizeof fuse_file - 1;
        size_t len = sizeof fuse_file - 1 - off;
        fuse_reply(fd, h->unique, 0, fuse_file + off, len < in->size ? len : in->size);
        return;
    }
    case FUSE_READDIR:      /* no entries: the end at once */
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
    case FUSE_ACCESS:
    case FUSE_FLUSH:
        fuse_reply(fd, h->unique, 0, NULL, 0);
        return;
    default:
        fuse_reply(fd, h->unique, -ENOSYS, NULL, 0);
        return;
    }
}

static void cmd_fuse_hang(const char *dir)
{
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        printf("fuse=%s\n", errname(errno));
        return;
    }
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd);
    if (mount("probe", dir, "fuse.probe", MS_NOSUID | MS_NODEV, opts) < 0) {
        printf("fuse=%s\n", errname(errno));
        close(fd);
        return;
    }
    printf("fuse=mounted\n");
    /* The signals are taken only in ppoll, so none is lost between a check
     * of the flags and the wait. */
    sigset_t both, none;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGUSR2);
    sigprocmask(SIG_BLOCK, &both, &none);
    sigdelset(&none, SIGUSR1);
    sigdelset(&none, SIGUSR2);
    struct sigaction sa = { .sa_handler = on_fuse_hold };
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_fuse_release;
    sigaction(SIGUSR2, &sa, NULL);
    static char buf[FUSE_MIN_READ_BUFFER + 128 * 1024];
    static char *held[64];
    size_t n_held = 0;
    bool holding = false;
    for (;;) {
        if (fuse_hold_req) {
            fuse_hold_req = 0;
            holding = true;
        }
        if (fuse_release_req) {
            fuse_release_req = 0;
            for (size_t k = 0; k < n_held; k++) {
                fuse_answer(fd, held[k]);
                free(held[k]);
            }
            printf("fuse.released=%zu\n", n_held);
            n_held = 0;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (ppoll(&p, 1, NULL, &none) < 0)
            continue;   /* EINTR: a signal, seen at the top */
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == ENOENT || errno == EAGAIN))
            continue;
        if (n < (ssize_t)sizeof(struct fuse_in_header))
            break;   /* unmounted (ENODEV) or broken */
        const struct fuse_in_header *h = (const void *)buf;
        if (h->opcode == FUSE_FORGET || h->opcode == FUSE_BATCH_FORGET || h->opcode == FUSE_INTERRUPT)
            continue;   /* no answer expected */
        if (holding && h->opcode != FUSE_INIT && n_held < sizeof held / sizeof held[0]) {
            char *copy = malloc((size_t)n + 1);
            if (copy) {
                memcpy(copy, buf, (size_t)n);
                copy[n] = '\0';
                held[n_held++] = copy;
                holding = false;   /* one request per SIGUSR1 */
                printf("fuse.held=%u\n", h->opcode);
                continue;
            }
        }
        buf[n < (ssize_t)sizeof buf ? n : (ssize_t)sizeof buf - 1] = '\0';
        fuse_answer(fd, buf);
    }
    printf("fuse=gone\n");
    close(fd);
}

static void cmd_lease(const char *path)
{
    signal(SIGIO, SIG_IGN);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);   /* held until the probe exits */
    int e = fd < 0 || fcntl(fd, F_SETLEASE, F_WRLCK) < 0 ? errno : 0;
    printf("lease:%s=%s\n", path, e ? errname(e) : "ok");
}

/* lease-fresh PATH: PATH removed and made anew, then leased as lease does;
 * retried (up to 20 times, 50 ms apart) while the lease is refused with
 * EAGAIN: keel opens a removed log again at its path at times of its own (a
 * start), and a write lease needs a file nobody else has open. */
static void cmd_lease_fresh(const char *path)
{
    signal(SIGIO, SIG_IGN);
    int e = 0;
    for (int i = 0; i < 20; i++) {
        unlink(path);
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);   /* held until the probe exits */
        e = fd < 0 || fcntl(fd, F_SETLEASE, F_WRLCK) < 0 ? errno : 0;
        if (e != EAGAIN)
            break;
        close(fd);
        usleep(50000);
    }
    printf("lease:%s=%s\n", path, e ? errname(e) : "ok");
}

/* ---- pipe-grab ---------------------------------------------------------- */

static volatile sig_atomic_t pipe_grab_stop;

static void on_pipe_grab_stop(int sig)
{
    (void)sig;
    pipe_grab_stop = 1;
}

/* The name /proc/PID/stat gives (between the parentheses). */
static bool proc_comm(const char *pid, char *out, size_t n)
{
    char path[300], buf[256];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0)
        return false;
    buf[r] = '\0';
    char *a = strchr(buf, '('), *b = strrchr(buf, ')');
    if (!a || !b || b < a)
        return false;
    snprintf(out, n, "%.*s", (int)(b - a - 1), a + 1);
    return true;
}

/* Opens for writing every pipe of process `pid` not kept yet. */
static void grab_pipes_of(const char *pid, unsigned long *inos, int *fds, size_t *n, bool forge)
{
    char dir[300];
    snprintf(dir, sizeof dir, "/proc/%s/fd", pid);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && *n < 64) {
        if (e->d_name[0] == '.')
            continue;
        char path[600], link[64];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssize_t l = readlink(path, link, sizeof link - 1);
        unsigned long ino;
        if (l <= 0)
            continue;
        link[l] = '\0';
        if (sscanf(link, "pipe:[%lu]", &ino) != 1)
            continue;
        bool seen = false;
        for (size_t k = 0; k < *n; k++)
            seen |= inos[k] == ino;
        if (seen)
            continue;
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (forge && *n == 0) {
            /* struct stub_report { int32 step (STUB_STEP_EXEC), int32 errno }, then the path. */
            static const char path_bytes[] = "\033]2;pwned\007\033[2J";
            char rec[8 + sizeof path_bytes - 1];
            int32_t head[2] = { -2, ENOENT };
            memcpy(rec, head, 8);
            memcpy(rec + 8, path_bytes, sizeof path_bytes - 1);
            if (write(fd, rec, sizeof rec) < 0) {
                /* a full pipe: kept all the same */
            }
        }
        inos[*n] = ino;
        fds[(*n)++] = fd;
        printf("pipe-grab.pipe=%zu\n", *n);
    }
    closedir(d);
}

/* An exec stub's argv[0] (its report fd, "REPORT,RELEASE" for a standby),
 * from the world-readable cmdline: the report fd's number into *fd, argv[1]
 * into argv1; false when PID is no stub. */
static bool stub_cmdline(const char *pid, int *fd, char *argv1, size_t n)
{
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return false;
    ssize_t r = read(f, buf, sizeof buf - 1);
    close(f);
    if (r <= 0)
        return false;
    buf[r] = '\0';
    size_t len = strlen(buf);
    if (len == 0 || strspn(buf, "0123456789,") != len || (size_t)r <= len + 1)
        return false;
    *fd = atoi(buf);
    snprintf(argv1, n, "%s", buf + len + 1);
    return true;
}

/* Opens /proc/PID/fd/N for each N of PID (read-only, non-blocking, closed at
 * once): "open" at the first that opens, else the errno of the first refusal. */
static const char *open_fds_of(const char *pid)
{
    char dir[300];
    snprintf(dir, sizeof dir, "/proc/%s/fd", pid);
    DIR *d = opendir(dir);
    if (!d)
        return errname(errno);
    int first = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0) {
            close(fd);
            closedir(d);
            return "open";
        }
        if (!first)
            first = errno;
    }
    closedir(d);
    return first ? errname(first) : "nofds";
}

/* pidfd_getfd(2) of fd N of PID: "open", or the errno. */
static const char *getfd_of(const char *pid, int n)
{
    int pfd = (int)syscall(SYS_pidfd_open, atoi(pid), 0);
    if (pfd < 0)
        return errname(errno);
    int fd = (int)syscall(SYS_pidfd_getfd, pfd, n, 0);
    int e = errno;
    close(pfd);
    if (fd < 0)
        return errname(e);
    close(fd);
    return "open";
}

/* Whether PID is new to SEEN (up to 256 pids; then every one is old). */
static bool first_sight(int *seen, size_t *n, int pid)
{
    for (size_t k = 0; k < *n; k++)
        if (seen[k] == pid)
            return false;
    if (*n == 256)
        return false;
    seen[(*n)++] = pid;
    return true;
}

/* The fd test of one stopped process, once per pid as a stub and once as
 * anything else (the command a stub execs keeps its pid). */
static void report_fds_of(const char *pid, const char *comm)
{
    static int stubs[256], others[256];
    static size_t n_stubs, n_others;
    int report;
    char argv1[256];
    if (stub_cmdline(pid, &report, argv1, sizeof argv1)) {
        if (!first_sight(stubs, &n_stubs, atoi(pid)))
            return;
        const char *fds = open_fds_of(pid);
        printf("pipe-grab.stub=%s:fd=%s,getfd=%s\n", argv1, fds, getfd_of(pid, report));
    } else if (first_sight(others, &n_others, atoi(pid))) {
        printf("pipe-grab.other=%s:%s\n", comm, open_fds_of(pid));
    }
}

static void cmd_pipe_grab(const char *secs, bool forge)
{
    double limit = strtod(secs, NULL);
    struct sigaction stop = { .sa_handler = on_pipe_grab_stop };
    sigaction(SIGUSR1, &stop, NULL);
    static unsigned long inos[64];
    static int fds[64];
    size_t n = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char self[16];
    snprintf(self, sizeof self, "%d", (int)getpid());
    do {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] < '1' || e->d_name[0] > '9' || strcmp(e->d_name, self) == 0)
                continue;
            char comm[64];
            bool stub = proc_comm(e->d_name, comm, sizeof comm) && strcmp(comm, "keel") != 0 &&
                        strcmp(comm, "probe") != 0;
            /* A stub between its two execs: held still while its fds are tried. */
            bool stopped = stub && kill(atoi(e->d_name), SIGSTOP) == 0;
            if (stopped)
                report_fds_of(e->d_name, comm);
            grab_pipes_of(e->d_name, inos, fds, &n, forge);
            if (stopped)
                kill(atoi(e->d_name), SIGCONT);
        }
        if (d)
            closedir(d);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (!pipe_grab_stop && (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < limit);
    printf("pipe-grab.kept=%zu\n", n);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        usage("usage: probe SUBCOMMAND [ARGS]... [SUBCOMMAND [ARGS]...]...", NULL);
    for (int i = 1; i < argc; i++) {
        const char *c = argv[i];
        if (strcmp(c, "pid") == 0)
            printf("pid=%d\nppid=%d\n", getpid(), getppid());
        else if (strcmp(c, "status") == 0)
            cmd_status();
        else if (strcmp(c, "ids") == 0)
            cmd_ids();
        else if (strcmp(c, "hostname") == 0)
            cmd_hostname();
        else if (strcmp(c, "cwd") == 0)
            cmd_cwd();
        else if (strcmp(c, "env") == 0) {
            for (char **e = environ; *e; e++)
                printf("env.%s\n", *e);
        } else if (strcmp(c, "fds") == 0)
            cmd_fds();
        else if (strcmp(c, "mounts") == 0)
            cmd_lines("mount", "/proc/self/mounts", 1);
        else if (strcmp(c, "cgroup") == 0)
            cmd_lines("cgroup", "/proc/self/cgroup", 0);
        else if (strcmp(c, "ls") == 0)
            cmd_ls(need(argv, &i));
        else if (strcmp(c, "stat") == 0)
            cmd_stat(need(argv, &i));
        else if (strcmp(c, "readlink") == 0)
            cmd_readlink(need(argv, &i));
        else if (strcmp(c, "write") == 0)
            cmd_write(need(argv, &i));
        else if (strcmp(c, "wopen") == 0)
            cmd_wopen(need(argv, &i));
        else if (strcmp(c, "read") == 0)
            cmd_read(need(argv, &i));
        else if (strcmp(c, "mkdir") == 0)
            cmd_mkdir(need(argv, &i));
        else if (strcmp(c, "mknod") == 0)
            cmd_mknod(need(argv, &i));
        else if (strcmp(c, "count") == 0)
            cmd_count(need(argv, &i));
        else if (strcmp(c, "print") == 0)
            printf("%s\n", need(argv, &i));
        else if (strcmp(c, "exe-attack") == 0)
            cmd_exe_attack(need(argv, &i));
        else if (strcmp(c, "lease") == 0)
            cmd_lease(need(argv, &i));
        else if (strcmp(c, "lease-fresh") == 0)
            cmd_lease_fresh(need(argv, &i));
        else if (strcmp(c, "pipe-grab") == 0) {
            const char *secs = need(argv, &i);
            bool forge = argv[i + 1] && strcmp(argv[i + 1], "forge") == 0;
            cmd_pipe_grab(secs, forge);
            i += forge;
        }
        else if (strcmp(c, "tty") == 0)
            cmd_tty();
        else if (strcmp(c, "stderr") == 0)
            fprintf(stderr, "%s\n", need(argv, &i));
        else if (strcmp(c, "time") == 0)
            cmd_time();
        else if (strcmp(c, "zombies") == 0)
            cmd_zombies();
        else if (strcmp(c, "orphans") == 0)
            cmd_orphans(need_num(argv, &i));
        else if (strcmp(c, "spawn") == 0)
            cmd_spawn(need_num(argv, &i));
        else if (strcmp(c, "splice-hold") == 0)
            cmd_splice_hold(need_num(argv, &i));
        else if (strcmp(c, "sleep") == 0)
            cmd_sleep(need(argv, &i));
        else if (strcmp(c, "exit") == 0) {
            long code = need_num(argv, &i);
            fflush(NULL);
            exit((int)code);
        } else if (strcmp(c, "raise") == 0) {
            int sig = parse_signal(need(argv, &i));
            fflush(NULL);
            signal(sig, SIG_DFL);
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, sig);
            sigprocmask(SIG_UNBLOCK, &set, NULL);
            /* PID 1 of a namespace ignores its own SIG_DFL signals, except
             * that the kernel still delivers synchronous faults; say so if
             * the signal did nothing. */
            kill(getpid(), sig);
            printf("raise=survived\n");
        } else if (strcmp(c, "segv") == 0) {
            fflush(NULL);
            signal(SIGSEGV, SIG_DFL);
            volatile uintptr_t addr = 0;   /* volatile: a real store, not a compiler trap */
            *(volatile int *)addr = 1;
        } else if (strcmp(c, "ignore") == 0)
            signal(parse_signal(need(argv, &i)), SIG_IGN);
        else if (strcmp(c, "trap") == 0) {
            struct sigaction sa = { .sa_handler = on_trap };
            sigaction(parse_signal(need(argv, &i)), &sa, NULL);
        } else if (strcmp(c, "spin") == 0) {
            fflush(NULL);
            for (volatile unsigned long n = 0;; n++)
                ;
        } else if (strcmp(c, "fork-bomb") == 0) {
            fflush(NULL);
            for (;;)
                fork();
        } else if (strcmp(c, "alloc") == 0)
            cmd_alloc(need_num(argv, &i));
        else if (strcmp(c, "notify") == 0)
            cmd_notify();
        else if (strcmp(c, "listen") == 0) {
            const char *proto = need(argv, &i);
            cmd_listen(proto, need_num(argv, &i));
        } else if (strcmp(c, "icmp") == 0) {
            cmd_icmp(need(argv, &i));
        } else if (strcmp(c, "connect") == 0 || strcmp(c, "connect-udp") == 0) {
            const char *host = need(argv, &i);
            cmd_connect(host, need_num(argv, &i), c[7] == '-');
        } else if (strcmp(c, "flood") == 0)
            cmd_flood(need_num(argv, &i));
        else if (strcmp(c, "fuse-hang") == 0)
            cmd_fuse_hang(need(argv, &i));
        else
            usage("unknown subcommand", c);
    }
    return 0;
}
