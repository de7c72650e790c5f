/* volume.c — block devices by superblock, [volume] mounts, see volume.h. */
#include "keel/volume.h"
#include "keel/fstab.h"
#include "keel/log.h"
#include "keel/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Reads up to LEN bytes at OFF of the device at PATH.  Returns the count or -errno. */
static ssize_t read_dev(const char *path, void *buf, size_t len, off_t off)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return got ? (ssize_t)got : -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* The size of /sys/class/block/NAME in 512-byte sectors (0 when unknown). */
static unsigned long long dev_sectors(int sysfd, const char *name)
{
    char p[300];
    _cleanup_free_ char *s = NULL;
    snprintf(p, sizeof p, "%s/size", name);
    if (read_file_at(sysfd, p, 64, &s, NULL) < 0)
        return 0;
    return strtoull(s, NULL, 10);
}

static int probe_path(const char *path, struct superblock_info *info)
{
    static unsigned char buf[SUPERBLOCK_PROBE_BYTES];
    ssize_t n = read_dev(path, buf, sizeof buf, 0);
    if (n < 0)
        return (int)n;
    superblock_probe(buf, (size_t)n, info);
    return 0;
}

/* One scan: how many devices match, the first into PATH/INFO. */
static int scan_once(const char *label, const char *uuid, char *path, size_t n, struct superblock_info *info,
                     char *other, size_t on, unsigned *pending)
{
    *pending = 0;
    _cleanup_close_ int sysfd = open("/sys/class/block", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sysfd < 0)
        return -errno;
    int dfd = fcntl(sysfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        close_safe(dfd);
        return -errno;
    }
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strlen(de->d_name) > 64 || dev_sectors(sysfd, de->d_name) == 0)
            continue;
        char p[96];
        if (snprintf(p, sizeof p, "/dev/%s", de->d_name) >= (int)sizeof p)
            continue;   /* cannot happen: names longer than 64 are skipped above */
        struct superblock_info si;
        int pr = probe_path(p, &si);
        *pending += pr == -ENOENT;   /* in sysfs, not yet in devtmpfs */
        if (pr < 0)
            continue;
        bool match = label ? strcmp(si.label, label) == 0 : superblock_uuid_match(&si, uuid);
        if (!match)
            continue;
        if (found++ == 0) {
            (void)str_copy(path, n, p);
            *info = si;
        } else {
            (void)str_copy(other, on, p);
        }
    }
    closedir(d);
    return found;
}

int volume_find(const char *label, const char *uuid, unsigned wait_ms, char *path, size_t n,
                struct superblock_info *info, struct kerr *err)
{
    const char *what = label ? "label" : "uuid", *value = label ? label : uuid;
    uint64_t start = now_ms();
    bool said = false;
    for (;;) {
        char other[96] = "";
        unsigned pending = 0;
        int r = scan_once(label, uuid, path, n, info, other, sizeof other, &pending);
        if (r < 0)
            return kerr_set(err, -r, "cannot list the block devices in /sys/class/block");
        if (r > 1)
            return kerr_msg(err, EEXIST, "cannot choose the disk with %s %s: both %s and %s carry it", what, value,
                            path, other);
        if (r == 1)
            return 0;
        uint64_t waited = now_ms() - start;
        /* A node devtmpfs has not made yet is waited for (1 s at most) even
         * with WAIT_MS 0: the kernel knows the disk already. */
        if (waited >= wait_ms && !(pending && waited < 1000))
            return kerr_msg(err, ENOENT, "no disk with %s %s after %llu ms (is its driver, virtio_blk say, in "
                            "[system] modules?)", what, value, (unsigned long long)waited);
        if (waited >= 1000 && !said) {
            log_info("waiting for the disk with %s %s", what, value);
            said = true;
        }
        sleep_ms(100);
    }
}

static int wait_device(const char *dev, unsigned wait_ms, struct kerr *err)
{
    uint64_t start = now_ms();
    struct stat st;
    while (stat(dev, &st) < 0) {
        uint64_t waited = now_ms() - start;
        if (errno != ENOENT || waited >= wait_ms)
            return kerr_set(err, errno, "cannot find %s after %llu ms", dev, (unsigned long long)waited);
        sleep_ms(50);
    }
    if (!S_ISBLK(st.st_mode))
        return kerr_msg(err, ENOTBLK, "%s is not a block device", dev);
    return 0;
}

/* mke2fs from the image, found in the usual directories (no PATH search of
 * the environment, no shell). */
static const char *find_mke2fs(void)
{
    static const char *const dirs[] = { "/sbin/mke2fs", "/usr/sbin/mke2fs", "/bin/mke2fs", "/usr/bin/mke2fs" };
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
        if (access(dirs[i], X_OK) == 0)
            return dirs[i];
    return NULL;
}

#define MKFS_TIMEOUT_MS 300000

/* Formats DEV as ext4 labelled with the volume's name: fork + exec, its
 * output on keel's console, bounded. */
static int run_mkfs(const struct volume_spec *v, const char *dev, struct kerr *err)
{
    const char *bin = find_mke2fs();
    if (!bin)
        return kerr_msg(err, ENOENT, "cannot format %s for volume %s: mke2fs is not in the image (make initramfs "
                        "copies it when the manifest says mkfs)", dev, v->name);
    log_info("volume %s: %s is empty: formatting it as ext4 (%s)", v->name, dev, bin);
    pid_t pid = fork();
    if (pid < 0)
        return kerr_set(err, errno, "cannot start mke2fs for %s", dev);
    if (pid == 0) {
        /* mke2fs's labels hold 16 bytes: a longer volume name is cut. */
        char label[17];
        snprintf(label, sizeof label, "%s", v->name);
        char *argv[] = { (char *)bin, "-q", "-F", "-t", "ext4", "-E", "nodiscard", "-L", label, (char *)dev, NULL };
        sigset_t none;
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (nul >= 0)
            (void)dup2(nul, 0);
        execve(bin, argv, environ);
        log_error("cannot run %s: %s", bin, strerror(errno));
        _exit(127);
    }
    uint64_t start = now_ms();
    int status = 0;
    for (;;) {
        pid_t p = waitpid(pid, &status, WNOHANG);
        if (p == pid)
            break;
        if (p < 0 && errno != EINTR)
            return kerr_set(err, errno, "cannot wait for mke2fs on %s", dev);
        if (now_ms() - start > MKFS_TIMEOUT_MS) {
            /* Reaped if it dies within a second; else left to the loop's
             * reaping: a mke2fs in uninterruptible sleep on a dead disk
             * outlives SIGKILL, and waiting for it would hold the boot. */
            (void)kill(pid, SIGKILL);
            for (int i = 0; i < 50 && waitpid(pid, &status, WNOHANG) == 0; i++)
                sleep_ms(20);
            return kerr_msg(err, ETIMEDOUT, "cannot format %s: mke2fs ran longer than %d s", dev,
                            MKFS_TIMEOUT_MS / 1000);
        }
        sleep_ms(20);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return kerr_msg(err, EIO, "cannot format %s for volume %s: mke2fs failed (status %d)", dev, v->name,
                        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}

/* True when DEV holds nothing: no signature and all zero in its first
 * SUPERBLOCK_PROBE_BYTES and its last SUPERBLOCK_TAIL_BYTES (where md 0.90
 * and 1.0 and GPT's backup header live). */
static int dev_is_empty(const char *dev, const struct superblock_info *info, bool *empty, struct kerr *err)
{
    *empty = false;
    if (info->kind != SB_EMPTY)
        return 0;
    _cleanup_close_ int fd = open(dev, O_RDONLY | O_CLOEXEC);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (size < 0)
        return kerr_set(err, errno, "cannot read the size of %s", dev);
    off_t from = size > SUPERBLOCK_TAIL_BYTES ? size - SUPERBLOCK_TAIL_BYTES : 0;
    _cleanup_free_ unsigned char *tail = malloc(SUPERBLOCK_TAIL_BYTES);
    if (!tail)
        return kerr_set(err, ENOMEM, "cannot read the end of %s", dev);
    ssize_t n = read_dev(dev, tail, (size_t)(size - from), from);
    if (n < 0)
        return kerr_set(err, (int)-n, "cannot read the end of %s", dev);
    *empty = superblock_all_zero(tail, (size_t)n);
    return 0;
}

static const char *kind_name(const struct superblock_info *si)
{
    if (si->fstype[0])
        return si->fstype;
    return si->kind == SB_EMPTY ? "nothing (all zero)" : "data keel does not recognise";
}

static int mount_volume(const struct volume_spec *v, struct kerr *err)
{
    char dev[96] = "";
    struct superblock_info si = { 0 };
    int r;
    if (v->device) {
        if (str_copy(dev, sizeof dev, v->device) < 0)
            return kerr_msg(err, ENAMETOOLONG, "volume %s: the device path is too long", v->name);
        if (wait_device(dev, VOLUME_WAIT_MS, err) < 0)
            return kerr_prefix(err, "volume %s", v->name);
        if ((r = probe_path(dev, &si)) < 0)
            return kerr_set(err, -r, "volume %s: cannot read %s", v->name, dev);
    } else if (volume_find(v->label, v->uuid, VOLUME_WAIT_MS, dev, sizeof dev, &si, err) < 0) {
        return kerr_prefix(err, "volume %s", v->name);
    }
    if (v->mkfs && si.kind != SB_EXT) {
        /* Formatted already (an earlier boot) is the usual case; anything
         * but an empty disk is left alone. */
        bool empty = false;
        if (dev_is_empty(dev, &si, &empty, err) < 0)
            return kerr_prefix(err, "volume %s", v->name);
        if (!empty)
            return kerr_msg(err, EEXIST, "volume %s: refusing to format %s: it holds %s, not an empty disk "
                            "(mkfs formats only a disk that is all zero at both ends)", v->name, dev,
                            si.kind == SB_EMPTY ? "data near its end" : kind_name(&si));
        if ((r = run_mkfs(v, dev, err)) < 0)
            return r;
        if ((r = probe_path(dev, &si)) < 0)
            return kerr_set(err, -r, "volume %s: cannot read %s after mke2fs", v->name, dev);
    }
    const char *fstype = v->fstype ? v->fstype : si.fstype;
    if (!fstype[0])
        return kerr_msg(err, EINVAL, "volume %s: %s holds %s: no file system to mount (give fstype, or mkfs "
                        "for an empty disk)", v->name, dev, kind_name(&si));
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/%s", MANIFEST_VOLUMES_DIR, v->name);
    if ((r = mkdir_p(MANIFEST_VOLUMES_DIR, 0700)) < 0 || (r = mkdir_p(target, 0755)) < 0)
        return kerr_set(err, -r, "volume %s: cannot create %s", v->name, target);
    if (mount(dev, target, fstype, v->flags | MS_NOSUID | MS_NODEV, v->data) < 0)
        return kerr_set(err, errno, "volume %s: cannot mount %s (%s%s%s) on %s", v->name, dev, fstype,
                        v->data ? ", " : "", v->data ? v->data : "", target);
    log_info("volume %s: %s (%s%s%s%s) mounted on %s", v->name, dev, fstype, si.label[0] ? ", label " : "",
             si.label, v->flags & MS_RDONLY ? ", read-only" : "", target);
    return 0;
}

int volume_mount_all(const struct manifest *m, struct kerr *err)
{
    if (!m->n_volumes)
        return 0;
    for (size_t i = 0; i < m->n_volumes; i++) {
        int r = mount_volume(&m->volumes[i], err);
        if (r < 0)
            return r;
    }
    log_stage("volumes mounted: %zu", m->n_volumes);
    return 0;
}

void volume_unmount_all(const struct manifest *m)
{
    for (size_t i = m ? m->n_volumes : 0; i-- > 0;) {
        const struct volume_spec *v = &m->volumes[i];
        char target[PATH_MAX];
        snprintf(target, sizeof target, "%s/%s", MANIFEST_VOLUMES_DIR, v->name);
        int fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            if (syncfs(fd) < 0)
                log_warn("volume %s: cannot sync %s: %s", v->name, target, strerror(errno));
            close(fd);
        }
        /* A process still exiting (a container's last one, a namespace not
         * yet released) can hold it busy for a moment. */
        uint64_t start = now_ms();
        int r;
        while ((r = umount2(target, UMOUNT_NOFOLLOW)) < 0 && errno == EBUSY && now_ms() - start < 2000)
            sleep_ms(50);
        if (r == 0) {
            log_info("volume %s: unmounted", v->name);
        } else if (errno == EBUSY && umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
            log_warn("volume %s: still busy after 2 s: detached; it is written back when its last user is gone "
                     "(the shutdown kills every process and syncs)", v->name);
        } else if (errno != EINVAL && errno != ENOENT) {
            log_warn("volume %s: cannot unmount %s: %s", v->name, target, strerror(errno));
        }
    }
}
