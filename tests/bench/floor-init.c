/* floor-init.c — the floor for keel's boot work: the least an init must do to
 * run the demo appliance's container command, booted in the same TCG guest as
 * keel (tests/bench/boot.sh builds an image of the demo's files with this as
 * /init and /floor.conf beside it).
 *
 *   /floor.conf:  module=/lib/modules/VERSION/.../overlay.ko  (0 or more)
 *                 layers=/layers/web:/layers/base     (the manifest's layers)
 *                 command=/bin/httpd -f -p 80 -h /www  (split on spaces)
 *
 * Steps: mount the pseudo-filesystems keel mounts at boot (proc, sysfs,
 * devtmpfs, devpts, /dev/shm, /run, /tmp, cgroup2), move off the kernel's
 * rootfs as keel does (a bind of / moved onto / and chrooted into), mount a
 * tmpfs with the overlay of the layers on it (a tmpfs upper, as `upper =
 * tmpfs`) and /proc inside, chroot into it and exec the command.  No
 * namespaces, no modules, no network, no capability drop: what keel adds on
 * top is what the ratio shows.
 *
 * The modules (overlay: Debian's kernel has it as a module) are loaded with
 * finit_module after the pseudo-filesystems, between the lines "floor:
 * modules" and "floor: modules loaded", so that boot.sh can leave them out as
 * it leaves keel's module loading out.
 *
 * It prints "[ SECONDS.MICROS] floor: start" first and "... floor: exec" right
 * before the execve, with CLOCK_MONOTONIC as keel's console lines have it, so
 * boot.sh reads both figures the same way.  On an error it prints "floor:
 * error: ..." and sleeps forever (PID 1 must not exit: the kernel panics).
 *
 * Built by tests/bench/run with gcc -O2 -static.  Not part of keel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void say(const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char line[512];
    int n = snprintf(line, sizeof line, "[%5ld.%06ld] floor: ", (long)ts.tv_sec, ts.tv_nsec / 1000);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    (void)!write(1, line, (size_t)n);
}

static void die(const char *what)
{
    say("error: %s: %s", what, strerror(errno));
    for (;;)
        pause();
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *opts)
{
    if (mkdir(dst, 0755) < 0 && errno != EEXIST)
        die(dst);
    if (mount(src, dst, type, flags, opts) < 0)
        die(dst);
}

int main(void)
{
    say("start");
    mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    mnt("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666");
    mnt("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mnt("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    mnt("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mnt("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);

    char conf[4096];
    int fd = open("/floor.conf", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, conf, sizeof conf - 1);
    if (n <= 0)
        die("/floor.conf");
    close(fd);
    conf[n] = '\0';
    char *layers = NULL, *command = NULL, *modules[16];
    int n_modules = 0;
    for (char *line = strtok(conf, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "module=", 7) == 0 && n_modules < 16)
            modules[n_modules++] = line + 7;
        else if (strncmp(line, "layers=", 7) == 0)
            layers = line + 7;
        else if (strncmp(line, "command=", 8) == 0)
            command = line + 8;
    }
    if (!layers || !command) {
        errno = EINVAL;
        die("/floor.conf needs layers= and command=");
    }

    say("modules");
    for (int i = 0; i < n_modules; i++) {
        int m = open(modules[i], O_RDONLY | O_CLOEXEC);
        if (m < 0 || (syscall(SYS_finit_module, m, "", 0) < 0 && errno != EEXIST))
            die(modules[i]);
        close(m);
    }
    say("modules loaded");

    /* Off the kernel's rootfs, as keel does (src/boot.c move_off_rootfs). */
    mnt("/", "/newroot", NULL, MS_BIND, NULL);
    if (mount("/proc", "/newroot/proc", NULL, MS_MOVE, NULL) < 0)
        die("move /proc");
    if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
        die("move the root");

    /* The container's root: a tmpfs with the upper, the overlay, /proc. */
    mnt("tmpfs", "/run/floor", "tmpfs", 0, "mode=0700");
    if (mkdir("/run/floor/upper", 0755) < 0 || mkdir("/run/floor/work", 0755) < 0)
        die("/run/floor");
    char opts[4096];
    snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=/run/floor/upper,workdir=/run/floor/work", layers);
    mnt("overlay", "/run/floor/root", "overlay", 0, opts);
    mnt("proc", "/run/floor/root/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);

    char *argv[64];
    int argc = 0;
    for (char *w = strtok(command, " "); w && argc < 63; w = strtok(NULL, " "))
        argv[argc++] = w;
    argv[argc] = NULL;
    if (chroot("/run/floor/root") < 0 || chdir("/") < 0)
        die("chroot");
    char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
    say("exec %s", argv[0]);
    execve(argv[0], argv, envp);
    die(argv[0]);
}
