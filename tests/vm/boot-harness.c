/* boot-harness.c — a minimal PID 1 over keel's boot module (boot.c, kmod.c),
 * for testing them in the VM independently of keel's main loop.
 *
 * It does what keel's main does in boot mode, without manifest or containers:
 * boot_early, boot_setup_machine over a manifest struct filled from the kernel
 * command line (harness.modules=a,b harness.sysctl=k=v harness.fail=1), then a
 * poll loop over a signalfd and the power button, and boot_final.  It prints
 * facts for the test to match ("harness: ..." lines). */
#include "keel/boot.h"
#include "keel/log.h"
#include "keel/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static char **split_commas(const char *s)
{
    char **v = calloc(1, sizeof *v);
    if (!s)
        return v;
    char *copy = strdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        strv_push(&v, t);
    free(copy);
    return v;
}

/* Can a fresh mount namespace pivot_root into a tmpfs? (It cannot on rootfs.) */
static void try_pivot(void)
{
    pid_t p = fork();
    if (p == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mkdir("/tmp/pv", 0755) < 0 || mount("tmpfs", "/tmp/pv", "tmpfs", 0, NULL) < 0 ||
            mkdir("/tmp/pv/old", 0755) < 0 || syscall(SYS_pivot_root, "/tmp/pv", "/tmp/pv/old") < 0) {
            printf("harness: pivot_root failed: %s\n", strerror(errno));
            _exit(1);
        }
        printf("harness: pivot_root ok\n");
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
}

/* Can /proc/self/exe be opened for writing (the CVE-2019-5736 attack's open),
 * by PID 1 and by a child it forked?  O_TRUNC makes the kernel check the
 * mount's read-only flag before the ETXTBSY of a running binary, so the
 * answer says which of the two refused.  The control: the root itself
 * (the bind of rootfs) is writable. */
static void exe_write_try(const char *who)
{
    int fd = open("/proc/self/exe", O_WRONLY | O_TRUNC | O_CLOEXEC);
    int e = errno;
    printf("harness: %s exe open for writing: %s\n", who,
           fd >= 0 ? "allowed" : e == EROFS ? "EROFS" : e == ETXTBSY ? "ETXTBSY" : strerror(e));
    if (fd >= 0)
        close(fd);
}

static void exe_write_facts(void)
{
    exe_write_try("pid1");
    pid_t p = fork();
    if (p == 0) {
        exe_write_try("child");
        _exit(0);
    }
    int st;
    if (p > 0)
        waitpid(p, &st, 0);
    int fd = open("/.harness-write", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    printf("harness: root writable: %s\n", fd >= 0 ? "yes" : strerror(errno));
    if (fd >= 0) {
        close(fd);
        unlink("/.harness-write");
    }
}

/* The other ways to the binary's inode.  /proc/PID/map_files/ of its text
 * names the file as execve opened it: on the read-only rootfs mount too
 * (O_TRUNC: the mount's flag is checked first).  A bind of the writable new
 * root without its submounts shows the inode without the read-only bind on
 * /init: there only ETXTBSY (the binary runs as PID 1) refuses a writer; no
 * O_TRUNC, so the inode's check comes first and nothing is ever cut. */
static void exe_other_paths(const char *exe)
{
    char line[512], mf[128] = "";
    FILE *maps = fopen("/proc/self/maps", "re");
    while (maps && !mf[0] && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char *path = strchr(line, '/');
        if (path && sscanf(line, "%lx-%lx", &lo, &hi) == 2 && strncmp(path, exe, strlen(exe)) == 0 &&
            path[strlen(exe)] == '\n')
            snprintf(mf, sizeof mf, "/proc/self/map_files/%lx-%lx", lo, hi);
    }
    if (maps)
        fclose(maps);
    int fd = mf[0] ? open(mf, O_WRONLY | O_TRUNC | O_CLOEXEC) : -1;
    int e = mf[0] ? errno : ENOENT;
    printf("harness: map_files exe open for writing: %s\n",
           fd >= 0 ? "allowed" : e == EROFS ? "EROFS" : e == ETXTBSY ? "ETXTBSY" : strerror(e));
    if (fd >= 0)
        close(fd);
    char alias[300];
    snprintf(alias, sizeof alias, "/.harness-alias%s", exe);
    fd = -1;
    e = 0;
    if (mkdir("/.harness-alias", 0700) < 0 || mount("/", "/.harness-alias", NULL, MS_BIND, NULL) < 0) {
        e = errno;
    } else {
        fd = open(alias, O_WRONLY | O_CLOEXEC);
        e = errno;
        if (fd >= 0)
            close(fd);
        umount2("/.harness-alias", MNT_DETACH);
    }
    rmdir("/.harness-alias");
    printf("harness: exe through a bind of the root open for writing: %s\n",
           fd >= 0 ? "allowed" : e == EROFS ? "EROFS" : e == ETXTBSY ? "ETXTBSY" : strerror(e));
}

int main(void)
{
    if (getpid() != 1) {
        fprintf(stderr, "boot-harness: must run as PID 1\n");
        return 1;
    }
    log_setup(2, LOG_LEVEL_INFO);
    struct kerr err = {0};
    if (boot_early(&err) < 0) {
        log_error("%s", err.msg);
        boot_fail(POWER_POWEROFF, NULL);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    _cleanup_free_ char *cmdline = NULL;
    read_file_at(AT_FDCWD, "/proc/cmdline", 65536, &cmdline, NULL);
    _cleanup_free_ char *mods = boot_cmdline_value(cmdline ? cmdline : "", "harness.modules");
    _cleanup_free_ char *sysctl = boot_cmdline_value(cmdline ? cmdline : "", "harness.sysctl");
    _cleanup_free_ char *path = boot_manifest_path();
    printf("harness: manifest path %s\n", path);

    struct manifest m;
    memset(&m, 0, sizeof m);
    m.system.hostname = "harness-host";
    m.system.modules = split_commas(mods);
    m.system.sysctl = split_commas(sysctl);
    char *dns[] = { "10.0.2.3", NULL };
    m.system.dns = dns;
    struct interface_spec ifs = { .name = "eth0", .prefix = 24, .has_address = true };
    inet_pton(AF_INET, "10.0.2.15", &ifs.address);
    inet_pton(AF_INET, "10.0.2.2", &ifs.gateway);
    m.interfaces = &ifs;
    m.n_interfaces = 1;
    if (boot_setup_machine(&m, NULL, &err) < 0) {
        log_error("%s", err.msg);
        boot_fail(POWER_POWEROFF, NULL);
    }

    /* Facts for the test. */
    char fstype[64] = "?";
    bool parentless = true;
    _cleanup_free_ char *mi = NULL;
    if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", 1 << 20, &mi, NULL) == 0)
        boot_mountinfo_root(mi, fstype, sizeof fstype, &parentless);
    printf("harness: root fstype %s parentless %s\n", fstype, parentless ? "yes" : "no");
    char exe[256] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0)
        exe[n] = '\0';
    printf("harness: exe %s\n", exe);
    struct statvfs sv;
    printf("harness: exe mount %s\n", statvfs("/proc/self/exe", &sv) < 0 ? "?" : (sv.f_flag & ST_RDONLY) ? "ro" : "rw");
    printf("harness: init still on disk: %s\n", access("/init", F_OK) == 0 ? "yes" : "no");
    exe_write_facts();
    exe_other_paths(exe);
    try_pivot();
    struct utsname u;
    uname(&u);
    printf("harness: hostname %s\n", u.nodename);
    /* The effects of sysctl, dns and the uplink, read back from the kernel
     * and the file system (not from keel's messages). */
    _cleanup_free_ char *dom = NULL, *resolv = NULL;
    read_file_at(AT_FDCWD, "/proc/sys/kernel/domainname", 4096, &dom, NULL);
    if (dom)
        dom[strcspn(dom, "\n")] = '\0';
    printf("harness: kernel.domainname %s\n", dom ? dom : "?");
    read_file_at(AT_FDCWD, "/etc/resolv.conf", 4096, &resolv, NULL);
    printf("harness: resolv.conf");
    for (char *l = resolv; l && *l;) {
        char *nl = strchr(l, '\n');
        if (strncmp(l, "nameserver ", 11) == 0)
            printf(" %.*s", (int)((nl ? nl : l + strlen(l)) - l - 11), l + 11);
        l = nl ? nl + 1 : NULL;
    }
    printf("\n");
    struct ifaddrs *ifa = NULL;
    printf("harness: eth0 inet");
    if (getifaddrs(&ifa) == 0) {
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, "eth0") != 0)
                continue;
            char a[INET_ADDRSTRLEN] = "";
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof a);
            printf(" %s%s", a, (i->ifa_flags & IFF_UP) ? ",up" : ",down");
        }
        freeifaddrs(ifa);
    }
    printf("\n");
    if (mi) {
        char **pts = NULL;
        boot_mountinfo_points(mi, &pts);
        printf("harness: mounts");
        for (size_t i = 0; pts && pts[i]; i++)
            printf(" %s", pts[i]);
        printf("\n");
        strv_free(pts);
    }
    _cleanup_free_ char *pm = NULL;
    if (read_file_at(AT_FDCWD, "/proc/modules", 1 << 20, &pm, NULL) == 0) {
        printf("harness: modules");
        for (char *l = pm; l && *l;) {
            char *sp = strchr(l, ' ');
            if (sp)
                printf(" %.*s", (int)(sp - l), l);
            l = strchr(l, '\n');
            if (l)
                l++;
        }
        printf("\n");
    }
    printf("harness: fds 0 1 2 -> ");
    for (int i = 0; i < 3; i++) {
        char p[32], t[64] = "";
        snprintf(p, sizeof p, "/proc/self/fd/%d", i);
        ssize_t k = readlink(p, t, sizeof t - 1);
        printf("%s ", k > 0 ? (t[k] = '\0', t) : "?");
    }
    printf("\n");

    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    int sfd = signalfd(-1, &all, SFD_CLOEXEC | SFD_NONBLOCK);
    int pb = boot_power_button_open(&err);
    if (pb < 0)
        printf("harness: no power button: %s\n", err.msg);

    /* An orphan: its parent exits at once, PID 1 must reap it. */
    pid_t c = fork();
    if (c == 0) {
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        if (fork() == 0) {
            execl("/layers/base/bin/sleep", "sleep", "1", (char *)NULL);
            _exit(127);
        }
        _exit(0);
    }
    _cleanup_free_ char *httpd = boot_cmdline_value(cmdline ? cmdline : "", "harness.httpd");
    if (httpd && fork() == 0) {
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        execl("/layers/base/bin/httpd", "httpd", "-f", "-p", "80", "-h", "/layers/web/www", (char *)NULL);
        _exit(127);
    }
    printf("harness: ready\n");
    unsigned reaped = 0;
    for (;;) {
        struct pollfd pf[2] = { { sfd, POLLIN, 0 }, { pb, POLLIN, 0 } };
        if (poll(pf, pb >= 0 ? 2 : 1, -1) < 0)
            continue;
        if (pb >= 0 && (pf[1].revents & POLLIN) && boot_power_button_pressed(pb)) {
            printf("harness: power button pressed\n");
            boot_final(POWER_POWEROFF);
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {
            if (si.ssi_signo == SIGCHLD) {
                while (waitpid(-1, NULL, WNOHANG) > 0)
                    if (++reaped == 2)
                        printf("harness: reaped the orphan\n");
                continue;
            }
            enum power_action a = boot_signal_action((int)si.ssi_signo);
            printf("harness: signal %d -> %s\n", (int)si.ssi_signo, a == POWER_REBOOT ? "reboot" : a == POWER_HALT ? "halt" : a == POWER_POWEROFF ? "poweroff" : "none");
            if (a != POWER_NONE)
                boot_final(a);
        }
    }
}
