/* boot.c — PID 1's work before and after supervision, see boot.h. */
#include "keel/boot.h"
#include "keel/fstab.h"
#include "keel/kmod.h"
#include "keel/layerimg.h"
#include "keel/log.h"
#include "keel/net.h"
#include "keel/parse.h"
#include "keel/util.h"
#include "keel/volume.h"
#include "keel/sys.h"

#include <ctype.h>
#include <dirent.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NEWROOT "/.keel-newroot"

/* ------------------------------------------------------------------------- */
/* Pure helpers                                                              */

char *boot_cmdline_value(const char *cmdline, const char *key)
{
    size_t klen = strlen(key);
    char *found = NULL;
    const char *p = cmdline;
    errno = 0;
    while (p && *p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        /* One word, honouring double quotes anywhere in it (the kernel's rule). */
        const char *start = p;
        bool quoted = false;
        while (*p && (quoted || !isspace((unsigned char)*p))) {
            if (*p == '"')
                quoted = !quoted;
            p++;
        }
        size_t wlen = (size_t)(p - start);
        if (wlen > klen && strncmp(start, key, klen) == 0 && start[klen] == '=') {
            const char *v = start + klen + 1;
            size_t vlen = wlen - klen - 1;
            char *val = malloc(vlen + 1), *o = val;
            if (!val) {
                free(found);
                errno = ENOMEM;
                return NULL;
            }
            for (size_t i = 0; i < vlen; i++)
                if (v[i] != '"')
                    *o++ = v[i];
            *o = '\0';
            free(found);
            found = val;
        }
    }
    return found;
}

char *boot_manifest_path(void)
{
    _cleanup_free_ char *cmdline = NULL;
    if (read_file_at(AT_FDCWD, "/proc/cmdline", 65536, &cmdline, NULL) == 0) {
        char *v = boot_cmdline_value(cmdline, "keel.manifest");
        if (v && *v)
            return v;
        free(v);
    }
    return strdup(MANIFEST_DEFAULT_PATH);
}

enum boot_source boot_manifest_source(const char *cmdline_path, enum boot_probe fwcfg, enum boot_probe disk)
{
    if (cmdline_path && *cmdline_path)
        return BOOT_SRC_CMDLINE;
    if (fwcfg == BOOT_PROBE_UNKNOWN)
        return BOOT_SRC_PROBE_FWCFG;
    if (fwcfg == BOOT_PROBE_FOUND)
        return BOOT_SRC_FWCFG;
    if (disk == BOOT_PROBE_UNKNOWN)
        return BOOT_SRC_PROBE_DISK;
    return disk == BOOT_PROBE_FOUND ? BOOT_SRC_DISK : BOOT_SRC_IMAGE;
}

const char *boot_source_name(enum boot_source s)
{
    switch (s) {
    case BOOT_SRC_CMDLINE: return "kernel command line keel.manifest=";
    case BOOT_SRC_FWCFG: return "fw_cfg opt/keel/manifest";
    case BOOT_SRC_DISK: return "config disk " BOOT_CONFIG_LABEL;
    case BOOT_SRC_IMAGE: return "image";
    default: return "?";
    }
}

int boot_sysctl_path(const char *key, char *buf, size_t n)
{
    static const char prefix[] = "/proc/sys/";
    size_t klen = strlen(key);
    if (klen == 0 || sizeof prefix + klen > n)
        return -EINVAL;
    /* A key with a slash is taken as a path (so interface names with dots,
     * net/ipv4/conf/eth0.10/..., can be written); otherwise dots separate. */
    bool slashed = strchr(key, '/') != NULL;
    char *o = buf + sizeof prefix - 1;
    memcpy(buf, prefix, sizeof prefix - 1);
    char prev = '/';
    for (const char *p = key; *p; p++) {
        char c = *p;
        if (!slashed && c == '.')
            c = '/';
        if (!(isalnum((unsigned char)c) || c == '_' || c == '-' || c == '/' || c == '.' || c == '+' || c == ':'))
            return -EINVAL;
        if (c == '/' && prev == '/')
            return -EINVAL;   /* empty component, or a leading slash */
        *o++ = c;
        prev = c;
    }
    *o = '\0';
    if (prev == '/')
        return -EINVAL;
    /* No "." or ".." component may walk out of /proc/sys. */
    for (const char *s = buf + sizeof prefix - 1; *s;) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            return -EINVAL;
        s += len;
        if (*s)
            s++;
    }
    return 0;
}

char *boot_resolv_conf(char *const *dns)
{
    return boot_resolv_conf_ra(dns, NULL);
}

char *boot_resolv_conf_ra(char *const *dns, char *const *ra)
{
    size_t cap = 128;
    for (size_t i = 0; dns && dns[i]; i++)
        cap += strlen(dns[i]) + 12;
    for (size_t i = 0; ra && ra[i]; i++)
        cap += strlen(ra[i]) + 12;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t used = (size_t)snprintf(out, cap, ra && ra[0] ? "# written by keel from [system] dns and IPv6 router "
                                                           "advertisements (RDNSS)\n"
                                                         : "# written by keel from [system] dns\n");
    for (size_t i = 0; dns && dns[i]; i++)
        used += (size_t)snprintf(out + used, cap - used, "nameserver %s\n", dns[i]);
    for (size_t i = 0; ra && ra[i]; i++)
        used += (size_t)snprintf(out + used, cap - used, "nameserver %s\n", ra[i]);
    return out;
}

/* Decodes mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). */
static void unescape_octal(char *s)
{
    char *o = s;
    for (char *p = s; *p;) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
            p[3] <= '7') {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 4;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
}

/* Splits one mountinfo line into its ids, mount point (field 5) and fs type
 * (first field after " - ").  Returns false for a malformed line. */
static bool mountinfo_fields(const char *line, size_t len, unsigned long ids[2], char *point, size_t pn,
                             char *fstype, size_t fn)
{
    const char *end = line + len;
    const char *p = line;
    char *e;
    ids[0] = strtoul(p, &e, 10);
    if (e == p || *e != ' ')
        return false;
    ids[1] = strtoul(e + 1, &e, 10);
    if (*e != ' ')
        return false;
    for (int field = 1; field < 5; field++) {
        while (p < end && *p != ' ')
            p++;
        if (p >= end)
            return false;
        p++;
    }
    const char *q = p;
    while (q < end && *q != ' ')
        q++;
    if ((size_t)(q - p) >= pn || q == p)
        return false;
    memcpy(point, p, (size_t)(q - p));
    point[q - p] = '\0';
    unescape_octal(point);
    /* The optional fields end at a lone "-". */
    const char *sep = NULL;
    for (const char *s = q; s + 2 < end; s++)
        if (s[0] == ' ' && s[1] == '-' && s[2] == ' ') {
            sep = s + 3;
            break;
        }
    if (!sep)
        return false;
    const char *t = sep;
    while (t < end && *t != ' ')
        t++;
    if ((size_t)(t - sep) >= fn || t == sep)
        return false;
    memcpy(fstype, sep, (size_t)(t - sep));
    fstype[t - sep] = '\0';
    return true;
}

int boot_mountinfo_root(const char *mountinfo, char *fstype, size_t n, bool *parentless)
{
    int r = -ENOENT;
    /* The last mount on "/" is the one that is visible. */
    for (const char *line = mountinfo; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char point[4096], type[64];
        unsigned long ids[2];
        if (mountinfo_fields(line, len, ids, point, sizeof point, type, sizeof type) && strcmp(point, "/") == 0) {
            r = str_copy(fstype, n, type);
            *parentless = ids[0] == ids[1];
        }
        line = nl ? nl + 1 : NULL;
    }
    return r;
}

int boot_mountinfo_points(const char *mountinfo, char ***out)
{
    char **v = calloc(1, sizeof *v);
    if (!v)
        return -ENOMEM;
    for (const char *line = mountinfo; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char point[4096], fstype[64];
        unsigned long ids[2];
        if (mountinfo_fields(line, len, ids, point, sizeof point, fstype, sizeof fstype) &&
            strv_push(&v, point) < 0) {
            strv_free(v);
            return -ENOMEM;
        }
        line = nl ? nl + 1 : NULL;
    }
    *out = v;
    return 0;
}

bool boot_caps_has_key(const char *caps, unsigned code)
{
    /* Words are printed most significant first, each a long in hex, without
     * leading zeros; the last word holds bits 0..63. */
    const char *words[64];
    size_t nw = 0;
    for (const char *p = caps; *p && nw < ARRAY_SIZE(words);) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        words[nw++] = p;
        while (*p && *p != ' ' && *p != '\n')
            p++;
    }
    unsigned bits = (unsigned)(sizeof(unsigned long) * 8);
    size_t idx = code / bits;
    if (idx >= nw)
        return false;
    const char *w = words[nw - 1 - idx];
    char *end = NULL;
    errno = 0;
    unsigned long val = strtoul(w, &end, 16);
    if (errno || end == w)
        return false;
    return (val >> (code % bits)) & 1ul;
}

/* ------------------------------------------------------------------------- */
/* Boot: where the manifest comes from                                       */

/* The looking for a manifest's module loading (qemu_fw_cfg, the config
 * disk's drivers): reported on its own stage line, so that the boot's own
 * work and its module loading can be told apart (tests/bench/boot.sh). */
static struct {
    uint64_t ns;
    int loaded;
} probe_modules;

/* A module the image may hold: loaded when it does, no error when it does not
 * (an image for one platform carries only its drivers). */
static void load_optional(const char *name)
{
    char *names[] = { (char *)name, NULL };
    struct kerr e = { 0 };
    uint64_t t0 = now_ns();
    int r = kmod_load(NULL, names, &e);
    probe_modules.ns += now_ns() - t0;
    if (r < 0)
        log_debug("optional module %s not loaded: %s", name, e.msg);
    else
        probe_modules.loaded += r;
}

/* PATH in /run/keel (made 0700), mode 0600, holding LEN bytes of TEXT. */
static int write_run_file(const char *path, const char *text, size_t len, struct kerr *err)
{
    int r = mkdir_p("/run/keel", 0700);
    if (r < 0)
        return kerr_set(err, -r, "cannot create /run/keel");
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return kerr_set(err, errno, "cannot write %s", path);
    if ((r = write_all(fd, text, len)) < 0)
        return kerr_set(err, -r, "cannot write %s", path);
    return 0;
}

static int save_copy(const char *text, size_t len, struct kerr *err)
{
    return write_run_file(BOOT_MANIFEST_COPY, text, len, err);
}

/* fw_cfg: ABSENT, or FOUND with the text saved. */
static int probe_fwcfg(enum boot_probe *out, struct kerr *err)
{
    struct stat st;
    *out = BOOT_PROBE_ABSENT;
    if (stat("/sys/firmware/qemu_fw_cfg", &st) < 0) {
        /* A machine with ACPI lists QEMU's fw_cfg device as QEMU0002: without
         * it there is nothing to read, and the module load (tens of ms under
         * TCG) is saved.  Without ACPI (device-tree machines), try. */
        if (stat("/sys/bus/acpi/devices", &st) == 0 && stat("/sys/bus/acpi/devices/QEMU0002:00", &st) < 0)
            return 0;
        load_optional("qemu_fw_cfg");
    }
    if (stat(BOOT_FWCFG_MANIFEST, &st) < 0)
        return 0;
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    int r = read_file_at(AT_FDCWD, BOOT_FWCFG_MANIFEST, BOOT_MANIFEST_MAX, &text, &len);
    if (r < 0)
        return kerr_set(err, -r, "cannot read the manifest from fw_cfg %s%s", BOOT_FWCFG_MANIFEST,
                        r == -EFBIG ? " (larger than 1 MiB)" : "");
    if ((r = save_copy(text, len, err)) < 0)
        return r;
    *out = BOOT_PROBE_FOUND;
    return 0;
}

/* The config disk: a file system labelled KEELCFG, mounted read-only at
 * /run/keel/config just long enough to copy /keel.ini. */
static int probe_disk(enum boot_probe *out, struct kerr *err)
{
    *out = BOOT_PROBE_ABSENT;
    load_optional("virtio_pci");
    load_optional("virtio_blk");
    char dev[96];
    struct superblock_info si;
    struct kerr e = { 0 };
    int r = volume_find(BOOT_CONFIG_LABEL, NULL, 0, dev, sizeof dev, &si, &e);
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return kerr_msg(err, -r, "cannot find the config disk: %s", e.msg);
    load_optional(si.fstype);
    static const char mnt[] = "/run/keel/config";
    if ((r = mkdir_p(mnt, 0700)) < 0)
        return kerr_set(err, -r, "cannot create %s", mnt);
    if (mount(dev, mnt, si.fstype, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return kerr_set(err, errno, "cannot mount the config disk %s (%s) on %s", dev, si.fstype, mnt);
    int dfd = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    r = dfd < 0 ? -errno : 0;
    if (r == 0) {
        /* A regular file only, never followed, opened without blocking: the
         * disk comes from the platform, and a FIFO there (nodev does not
         * stop one) held PID 1 in open(2) for ever, with no watchdog armed
         * yet.  BOOT_CONFIG_FILE is one name: nothing on the way. */
        int fd = open_regular_nofollow_at(dfd, BOOT_CONFIG_FILE, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            r = -errno;
        } else {
            r = read_fd_all(fd, BOOT_MANIFEST_MAX, &text, &len);
            close(fd);
        }
    }
    close_safe(dfd);   /* before the unmount: an open fd keeps it busy */
    if (umount2(mnt, UMOUNT_NOFOLLOW) < 0)
        log_warn("cannot unmount the config disk at %s: %s", mnt, strerror(errno));
    if (r == -EINVAL)
        return kerr_msg(err, EINVAL, "cannot read /%s from the config disk %s (label %s): not a regular file",
                        BOOT_CONFIG_FILE, dev, BOOT_CONFIG_LABEL);
    if (r < 0)
        return kerr_set(err, -r, "cannot read /%s from the config disk %s (label %s)%s", BOOT_CONFIG_FILE, dev,
                        BOOT_CONFIG_LABEL, r == -EFBIG ? " (larger than 1 MiB)" : "");
    if ((r = save_copy(text, len, err)) < 0)
        return r;
    log_info("config disk: %s (%s, label %s)", dev, si.fstype, BOOT_CONFIG_LABEL);
    *out = BOOT_PROBE_FOUND;
    return 0;
}

int boot_manifest_find(char **path, struct kerr *err)
{
    *path = NULL;
    _cleanup_free_ char *cmdline = NULL;
    _cleanup_free_ char *arg = NULL;
    if (read_file_at(AT_FDCWD, "/proc/cmdline", 65536, &cmdline, NULL) == 0)
        arg = boot_cmdline_value(cmdline, "keel.manifest");
    enum boot_probe fw = BOOT_PROBE_UNKNOWN, disk = BOOT_PROBE_UNKNOWN;
    enum boot_source src;
    while ((src = boot_manifest_source(arg, fw, disk)) == BOOT_SRC_PROBE_FWCFG || src == BOOT_SRC_PROBE_DISK) {
        int r = src == BOOT_SRC_PROBE_FWCFG ? probe_fwcfg(&fw, err) : probe_disk(&disk, err);
        if (r < 0)
            return r;
    }
    if (probe_modules.ns)
        log_stage("manifest probe modules: %d loaded in %llu.%03llu ms", probe_modules.loaded,
                  (unsigned long long)(probe_modules.ns / 1000000u),
                  (unsigned long long)(probe_modules.ns % 1000000u / 1000u));
    char *found = strdup(src == BOOT_SRC_CMDLINE ? arg
                         : src == BOOT_SRC_IMAGE ? MANIFEST_DEFAULT_PATH
                                                 : BOOT_MANIFEST_COPY);
    if (!found)
        return kerr_set(err, ENOMEM, "cannot find the manifest");
    _cleanup_free_ char *rec = xasprintf("%s\n%s\n", boot_source_name(src), found);
    struct kerr e = { 0 };
    if (!rec || write_run_file(BOOT_MANIFEST_SOURCE, rec, strlen(rec), &e) < 0)
        log_warn("cannot record the manifest's source: %s", rec ? e.msg : strerror(ENOMEM));
    log_stage("manifest source: %s (%s)", boot_source_name(src), found);
    *path = found;
    return 0;
}

bool boot_manifest_source_of(const char *path, char *buf, size_t n)
{
    _cleanup_free_ char *rec = NULL;
    if (read_file_at(AT_FDCWD, BOOT_MANIFEST_SOURCE, 4096, &rec, NULL) < 0)
        return false;
    char *nl = strchr(rec, '\n');
    if (!nl)
        return false;
    *nl = '\0';
    char *p = nl + 1;
    p[strcspn(p, "\n")] = '\0';
    if (path && strcmp(path, p) != 0)
        return false;
    return str_copy(buf, n, rec) == 0;
}

/* ------------------------------------------------------------------------- */
/* Boot: the move off rootfs                                                 */

/* True when / is the namespace's parentless root mount: the kernel's rootfs. */
static bool root_is_rootfs(void)
{
    _cleanup_free_ char *mi = NULL;
    char fstype[64];
    bool parentless = false;
    if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", 1 << 20, &mi, NULL) < 0)
        return false;
    return boot_mountinfo_root(mi, fstype, sizeof fstype, &parentless) == 0 && parentless;
}

/* Makes the root a mount that pivot_root can leave, with keel's binary
 * out of writing reach, without re-executing keel.
 *
 * The kernel's rootfs is the one mount with no parent, and pivot_root(2)
 * refuses to move a root that has none (EINVAL) — so no container could be
 * entered with pivot_root.  A bind mount of rootfs, moved onto / and chrooted
 * into (as switch_root does with a real root), is a mount *with* a parent: it
 * holds the same files, costs no copy (copying a 4.4 MB image into a tmpfs
 * took 46 ms of TCG guest time, the whole boot-work budget twice over) and
 * no extra memory.
 *
 * /proc/PID/exe of every keel process (PID 1 and whatever it forks) is the
 * path keel was executed from: the ORIGINAL rootfs mount, which the bind
 * leaves behind as its parent, out of any path's reach.  That mount is made
 * read-only (a per-mount flag: MS_REMOUNT | MS_BIND, not the superblock, so
 * the bind that becomes / stays writable), so /proc/PID/exe can never be
 * opened for writing (EROFS; the CVE-2019-5736 class), even once no process
 * runs the file and ETXTBSY no longer guards it.  Until the seventh session
 * keel re-executed itself from a read-only bind to get the same (0.7 ms of a
 * TCG guest's instructions).  The bind of keel's binary read-only on itself
 * in the new root stays: a later execve of /init by path (a rescue shell)
 * gets an exe just as unwritable.
 *
 * Order: the bind of / is made before the remount (a bind copies its
 * source's flags: made after, the new root would be read-only too). */
static int move_off_rootfs(struct kerr *err)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || self[0] != '/')
        return kerr_set(err, n < 0 ? errno : ENOENT, "cannot find keel's own binary in /proc/self/exe");
    self[n] = '\0';
    if (mkdir(NEWROOT, 0700) < 0 && errno != EEXIST)
        return kerr_set(err, errno, "cannot create %s", NEWROOT);
    if (mount("/", NEWROOT, NULL, MS_BIND, NULL) < 0)
        return kerr_set(err, errno, "cannot bind-mount the rootfs at %s", NEWROOT);
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        return kerr_set(err, errno, "cannot make the rootfs mount that keel runs from read-only");
    /* /proc goes along (a move frees nothing, so unlike umount it waits for no RCU grace period). */
    if (mount("/proc", NEWROOT "/proc", NULL, MS_MOVE, NULL) < 0)
        return kerr_set(err, errno, "cannot move /proc into the new root");
    if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 || chdir("/") < 0)
        return kerr_set(err, errno, "cannot move the root mount onto /");
    (void)rmdir(NEWROOT);   /* the same directory, seen through the new mount; now unused */
    if (mount(self, self, NULL, MS_BIND, NULL) < 0 ||
        mount(NULL, self, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        return kerr_set(err, errno, "cannot make keel's binary %s read-only", self);
    log_stage("root moved off rootfs");
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Boot: mounts                                                              */

struct boot_mount {
    const char *source, *target, *fstype;
    unsigned long flags;
    const char *data;
    long magic;   /* statfs f_type that means "already mounted" */
};

static const struct boot_mount boot_mounts[] = {
    { "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, PROC_SUPER_MAGIC },
    { "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, SYSFS_MAGIC },
    { "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", TMPFS_MAGIC },
    { "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666", DEVPTS_SUPER_MAGIC },
    { "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", TMPFS_MAGIC },
    { "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", TMPFS_MAGIC },
    { "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", TMPFS_MAGIC },
    { "cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate", CGROUP2_SUPER_MAGIC },
};

/* True when `path` is a mount point of the expected type already (keel started
 * with init= on a system whose /dev the kernel mounted, or a restart). */
static bool mounted_as(const char *path, long magic)
{
    struct statfs sf;
    struct stat st, parent;
    char up[4096];
    if (statfs(path, &sf) < 0 || (long)sf.f_type != magic)
        return false;
    if (snprintf(up, sizeof up, "%s/..", path) >= (int)sizeof up)
        return false;
    /* Same type as the parent's on the same device (e.g. /tmp inside a tmpfs
     * root) is not a mount point of its own. */
    return stat(path, &st) == 0 && stat(up, &parent) == 0 && st.st_dev != parent.st_dev;
}

static int mount_one(const struct boot_mount *bm, struct kerr *err)
{
    if (mounted_as(bm->target, bm->magic))
        return 0;
    int r = mkdir_p(bm->target, 0755);
    if (r < 0)
        return kerr_set(err, -r, "cannot create mount point %s", bm->target);
    if (mount(bm->source, bm->target, bm->fstype, bm->flags, bm->data) == 0)
        return 0;
    int e = errno;
    /* cgroup2 without nsdelegate (older kernels), devpts without options. */
    if (e == EINVAL && bm->data && mount(bm->source, bm->target, bm->fstype, bm->flags, NULL) == 0)
        return 0;
    return kerr_set(err, e, "cannot mount %s at %s", bm->fstype, bm->target);
}

static void console_stdio(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        log_warn("cannot open /dev/console: %s", strerror(errno));
        return;
    }
    for (int i = 0; i < 3; i++)
        if (fd != i && dup2(fd, i) < 0)
            log_warn("cannot point fd %d at /dev/console: %s", i, strerror(errno));
    if (fd > 2)
        close(fd);
}

/* True when this PID 1 is not the kernel's init but the first process of a
 * container.  A container whose command is a script starting with
 * `#!/proc/self/exe` makes the kernel run, as the interpreter, the binary of
 * the process that execs the command: keel's own setup child (the
 * CVE-2019-5736 class).  That copy of keel must not go on to "boot" the
 * container.  The kernel starts init with the full capability bounding set,
 * without no_new_privs and without a seccomp filter; keel's containers have
 * at least one of these reduced, by default all three. */
bool boot_in_container(void)
{
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 || prctl(PR_GET_SECCOMP, 0, 0, 0, 0) > 0)
        return true;
    for (int cap = 0;; cap++) {
        int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (r < 0)
            return false;   /* EINVAL: past the kernel's last capability, all held */
        if (r == 0)
            return true;
    }
}

int boot_early(struct kerr *err)
{
    log_stage("keel %s starting as PID 1", KEEL_VERSION);
    if (!getenv("PATH"))
        setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
    umask(022);

    int r = mount_one(&boot_mounts[0], err);
    if (r < 0)
        return r;
    if (root_is_rootfs() && move_off_rootfs(err) < 0)
        return kerr_prefix(err, "cannot move the root off the initramfs");
    /* Private first: every mount made below inherits it, and nothing keel or a
     * container mounts propagates anywhere else. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return kerr_set(err, errno, "cannot make / a private mount tree");
    for (size_t i = 1; i < ARRAY_SIZE(boot_mounts); i++)
        if ((r = mount_one(&boot_mounts[i], err)) < 0)
            return r;
    console_stdio();
    static const char *const links[][2] = {
        { "/proc/self/fd", "/dev/fd" },
        { "/proc/self/fd/0", "/dev/stdin" },
        { "/proc/self/fd/1", "/dev/stdout" },
        { "/proc/self/fd/2", "/dev/stderr" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(links); i++)
        if (symlink(links[i][0], links[i][1]) < 0 && errno != EEXIST)
            log_warn("cannot create %s: %s", links[i][1], strerror(errno));
    /* Ctrl-Alt-Del then arrives as SIGINT instead of an immediate reboot. */
    if (reboot(RB_DISABLE_CAD) < 0)
        log_warn("cannot disable Ctrl-Alt-Del: %s", strerror(errno));
    log_stage("mounts done");
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Boot: system settings                                                     */

static int apply_sysctl(const char *kv, struct kerr *err)
{
    const char *eq = strchr(kv, '=');
    if (!eq)
        return kerr_msg(err, EINVAL, "cannot apply sysctl '%s': expected KEY=VALUE", kv);
    char key[256], path[512];
    size_t klen = (size_t)(eq - kv);
    while (klen > 0 && isspace((unsigned char)kv[klen - 1]))
        klen--;
    size_t off = 0;
    while (off < klen && isspace((unsigned char)kv[off]))
        off++;
    if (klen - off >= sizeof key)
        return kerr_msg(err, EINVAL, "cannot apply sysctl '%s': key too long", kv);
    memcpy(key, kv + off, klen - off);
    key[klen - off] = '\0';
    const char *val = eq + 1;
    while (isspace((unsigned char)*val))
        val++;
    if (boot_sysctl_path(key, path, sizeof path) < 0)
        return kerr_msg(err, EINVAL, "cannot apply sysctl '%s': invalid key", key);
    int r = write_file_at(AT_FDCWD, path, val);
    if (r < 0)
        return kerr_set(err, -r, "cannot set sysctl %s to '%s' (%s)", key, val, path);
    log_info("sysctl %s = %s", key, val);
    return 0;
}

static int write_resolv_conf(char *const *dns, struct kerr *err)
{
    return boot_write_resolv_conf_ra(dns, NULL, err);
}

int boot_write_resolv_conf_ra(char *const *dns, char *const *ra, struct kerr *err)
{
    _cleanup_free_ char *text = boot_resolv_conf_ra(dns, ra);
    if (!text)
        return kerr_set(err, ENOMEM, "cannot write /etc/resolv.conf");
    return boot_write_resolv_conf(text, err);
}

int boot_write_resolv_conf(const char *text, struct kerr *err)
{
    int r = mkdir_p("/etc", 0755);
    if (r < 0)
        return kerr_set(err, -r, "cannot create /etc");
    /* Written aside and renamed, so nobody ever reads half a file. */
    _cleanup_close_ int fd = open("/etc/.resolv.conf.keel", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return kerr_set(err, errno, "cannot write /etc/resolv.conf");
    r = write_all(fd, text, strlen(text));
    if (r < 0)
        return kerr_set(err, -r, "cannot write /etc/resolv.conf");
    if (rename("/etc/.resolv.conf.keel", "/etc/resolv.conf") < 0)
        return kerr_set(err, errno, "cannot write /etc/resolv.conf");
    return 0;
}

/* A device made by a driver loaded just before may take a moment to appear
 * in devtmpfs: wait for it, as the kernel's rootwait does, but not forever. */
#define FSTAB_DEVICE_WAIT_MS 10000

static int fstab_mount(const struct fstab_entry *e, struct kerr *err)
{
    if (str_starts(e->source, "/dev/")) {
        struct stat st;
        unsigned waited = 0;
        while (stat(e->source, &st) < 0) {
            if (errno != ENOENT || waited >= FSTAB_DEVICE_WAIT_MS)
                return kerr_set(err, errno, "cannot mount %s on %s: no such device after %u ms", e->source,
                                e->target, waited);
            if (waited == 1000)
                log_info("waiting for %s", e->source);
            sleep_ms(10);
            waited += 10;
        }
    }
    int r = mkdir_p(e->target, 0755);
    if (r < 0)
        return kerr_set(err, -r, "cannot create mount point %s", e->target);
    if (mount(e->source, e->target, e->fstype, e->flags, e->data) < 0)
        return kerr_set(err, errno, "cannot mount %s on %s (%s%s%s)", e->source, e->target, e->fstype,
                        e->data ? ", " : "", e->data ? e->data : "");
    char line[600];
    log_info("mounted %s", fstab_format(e, line, sizeof line));
    return 0;
}

/* Image-file layers (layerimg.h) need the loop driver and their file
 * system; the manifest need not name them in `modules`.  After the fstab
 * mounts, so layers on a data disk count too.  A module that cannot be
 * loaded is a warning, not a failed boot: the kernel may have it built in
 * without saying so in the image, and a container that cannot attach its
 * image fails its start with the reason. */
int boot_image_modules(const struct manifest *m)
{
    _cleanup_strv_ char **names = NULL;
    if (layerimg_modules(m, &names) < 0 || !names)
        return 0;
    struct kerr err = { 0 };
    int r = kmod_load(NULL, names, &err);
    if (r < 0)
        log_warn("%s: image layers may not mount", err.msg);
    else
        log_stage("image layer modules loaded: %s%s%s%s%s (%d new)", names[0], names[1] ? " " : "",
                 names[1] ? names[1] : "", names[1] && names[2] ? " " : "", names[1] && names[2] ? names[2] : "", r);
    return r < 0 ? 0 : r;
}

/* modules_split = yes, after the volumes: what the plan puts before the
 * first start and was not loaded with the unknown ones.  The manifest's
 * modules are fatal as in `modules`; the image layers' are warnings as in
 * boot_image_modules.  Adds to *loaded. */
static int load_planned(const struct manifest *m, struct modplan *plan, int *loaded, struct kerr *err)
{
    size_t n = m->n_containers;
    char ***images = calloc(n ? n : 1, sizeof *images);
    int r = images ? 0 : -ENOMEM;
    for (size_t i = 0; r == 0 && i < n; i++)
        r = layerimg_container_modules(&m->containers[i], &images[i]);
    if (r == 0)
        r = modplan_build(m, (char *const *const *)images, plan);
    for (size_t i = 0; images && i < n; i++)
        strv_free(images[i]);
    free(images);
    if (r < 0)
        return kerr_set(err, -r, "cannot plan module loading");
    _cleanup_strv_ char **listed = NULL, **own = NULL;
    for (size_t i = 0; plan->before && plan->before[i]; i++)
        if (strv_push(strv_contains(m->system.modules, plan->before[i]) ? &listed : &own, plan->before[i]) < 0)
            return kerr_set(err, ENOMEM, "cannot plan module loading");
    if (listed) {
        if ((r = kmod_load(NULL, listed, err)) < 0)
            return r;
        *loaded += r;
    }
    struct kerr e = { 0 };
    if (own && (r = kmod_load(NULL, own, &e)) < 0)
        log_warn("%s: image layers may not mount", e.msg);
    else if (own)
        *loaded += r;
    return 0;
}

int boot_setup_machine(const struct manifest *m, struct modplan *plan, struct kerr *err)
{
    const struct system_spec *s = &m->system;
    bool split = plan && s->modules_split;
    int r;
    if (s->hostname && *s->hostname) {
        if (sethostname(s->hostname, strlen(s->hostname)) < 0)
            return kerr_set(err, errno, "cannot set hostname to %s", s->hostname);
        log_info("hostname %s", s->hostname);
    }
    uint64_t mod_start = now_ms();
    int mod_new = 0;
    /* Split: only those keel knows nothing about now, and the fstab's and
     * the volumes' file systems; the plan's others once the image layers can
     * be looked at. */
    _cleanup_strv_ char **unknown = NULL;
    for (size_t i = 0; split && s->modules && s->modules[i]; i++)
        if (modplan_first_step(m, s->modules[i]) && strv_push(&unknown, s->modules[i]) < 0)
            return kerr_set(err, ENOMEM, "cannot plan module loading");
    char *const *now = split ? unknown : s->modules;
    if (now && now[0]) {
        r = kmod_load(NULL, now, err);
        if (r < 0)
            return r;
        mod_new += r;
        char list[512] = "";
        size_t used = 0;
        for (size_t i = 0; now[i] && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? " " : "", now[i]);
        log_stage("modules loaded: %s (%d new)", list, r);
    }
    uint64_t mod_ms = now_ms() - mod_start;
    if (s->n_fstab) {
        unsigned mounted = 0;
        for (size_t i = 0; i < s->n_fstab; i++) {
            const struct fstab_entry *e = &s->fstab[i];
            if ((r = fstab_mount(e, err)) == 0) {
                mounted++;
            } else if (e->nofail) {
                log_warn("%s (nofail: going on)", err->msg);
            } else {
                return r;
            }
        }
        log_stage("file systems mounted: %u of %zu", mounted, s->n_fstab);
    }
    /* Volumes after the modules (their drivers) and fstab, before anything
     * that starts a container. */
    if ((r = volume_mount_all(m, err)) < 0)
        return r;
    mod_start = now_ms();
    if (split) {
        if ((r = load_planned(m, plan, &mod_new, err)) < 0)
            return r;
    } else {
        mod_new += boot_image_modules(m);
        if (plan && (r = modplan_build(m, NULL, plan)) < 0)
            return kerr_set(err, -r, "cannot plan module loading");
    }
    mod_ms += now_ms() - mod_start;
    if (s->modules || split)
        log_stage("modules before the first start: %d loaded in %llu ms; %zu after it", mod_new,
                  (unsigned long long)mod_ms, plan ? strv_len(plan->after) : 0);
    for (size_t i = 0; s->sysctl && s->sysctl[i]; i++)
        if ((r = apply_sysctl(s->sysctl[i], err)) < 0)
            return r;
    if (s->dns && s->dns[0]) {
        if ((r = write_resolv_conf(s->dns, err)) < 0)
            return r;
        log_info("dns: %zu nameserver(s) in /etc/resolv.conf", strv_len(s->dns));
    }
    if (net_loopback_up(err) < 0)
        return kerr_prefix(err, "cannot bring up lo");
    for (size_t i = 0; i < m->n_interfaces; i++) {
        const struct interface_spec *ifs = &m->interfaces[i];
        if ((r = net_interface_configure(ifs, err)) < 0)
            return r;
        char a[INET_ADDRSTRLEN] = "", g[INET_ADDRSTRLEN] = "";
        inet_ntop(AF_INET, &ifs->address, a, sizeof a);
        inet_ntop(AF_INET, &ifs->gateway, g, sizeof g);
        if (ifs->has_address)
            log_info("interface %s: %s/%u up%s%s", ifs->name, a, ifs->prefix, ifs->gateway.s_addr ? ", via " : "",
                     ifs->gateway.s_addr ? g : "");
        else
            log_info("interface %s: up", ifs->name);
    }
    log_stage("network up");
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Power button                                                              */

/* Lower is better: the ACPI power button first, then any "Power Button", then
 * the device with the fewest keys (a keyboard also declares KEY_POWER). */
static int button_score(int sysfd, const char *ev)
{
    char path[256];
    _cleanup_free_ char *caps = NULL, *phys = NULL, *name = NULL;
    /* ev is an "eventN" name shorter than 64 (the caller checks): the
     * paths always fit, and a name that did not would score as no button. */
    if (snprintf(path, sizeof path, "%s/device/capabilities/key", ev) >= (int)sizeof path ||
        read_file_at(sysfd, path, 65536, &caps, NULL) < 0 || !boot_caps_has_key(caps, KEY_POWER))
        return -1;
    if (snprintf(path, sizeof path, "%s/device/phys", ev) < (int)sizeof path &&
        read_file_at(sysfd, path, 4096, &phys, NULL) == 0 && str_starts(phys, "LNXPWRBN"))
        return 0;
    if (snprintf(path, sizeof path, "%s/device/name", ev) < (int)sizeof path &&
        read_file_at(sysfd, path, 4096, &name, NULL) == 0 && strstr(name, "Power Button"))
        return 1;
    int keys = 0;
    for (const char *p = caps; *p; p++)
        if (isxdigit((unsigned char)*p)) {
            unsigned v = (unsigned)(isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10));
            keys += __builtin_popcount(v);
        }
    return 2 + keys;
}

int boot_power_button_open(struct kerr *err)
{
    _cleanup_close_ int sysfd = open("/sys/class/input", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sysfd < 0)
        return kerr_set(err, errno, "cannot find the power button: cannot open /sys/class/input");
    int dfd = fcntl(sysfd, F_DUPFD_CLOEXEC, 0);   /* closedir closes it; never inherited meanwhile */
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        close_safe(dfd);
        return kerr_set(err, errno, "cannot find the power button: cannot list /sys/class/input");
    }
    char best[64] = "";
    int best_score = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!str_starts(de->d_name, "event") || strlen(de->d_name) >= sizeof best)
            continue;
        int s = button_score(sysfd, de->d_name);
        if (s >= 0 && (best_score < 0 || s < best_score)) {
            best_score = s;
            memcpy(best, de->d_name, strlen(de->d_name) + 1);   /* shorter than best: checked above */
        }
    }
    closedir(d);
    if (best_score < 0)
        return kerr_msg(err, ENOENT, "cannot find the power button: no input device has KEY_POWER "
                                     "(the button and evdev modules are needed)");
    char dev[128];
    snprintf(dev, sizeof dev, "/dev/input/%s", best);
    int fd = open(dev, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return kerr_set(err, errno, "cannot open the power button %s", dev);
    log_info("power button: %s", dev);
    return fd;
}

int boot_power_button_pressed(int fd)
{
    int pressed = 0;
    struct input_event ev[16];
    for (;;) {
        ssize_t n = read(fd, ev, sizeof ev);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (size_t i = 0; i < (size_t)n / sizeof ev[0]; i++)
            if (ev[i].type == EV_KEY && ev[i].code == KEY_POWER && ev[i].value == 1)
                pressed = 1;
    }
    return pressed;
}

/* ------------------------------------------------------------------------- */
/* Shutdown                                                                  */

enum power_action boot_signal_action(int sig)
{
    if (sig == SIGTERM || sig == SIGINT)
        return POWER_REBOOT;
    if (sig == SIGUSR1)
        return POWER_HALT;
    if (sig == SIGUSR2 || sig == SIGPWR)
        return POWER_POWEROFF;
    if (sig == SIGRTMIN + 3)
        return POWER_HALT;
    if (sig == SIGRTMIN + 4)
        return POWER_POWEROFF;
    if (sig == SIGRTMIN + 5)
        return POWER_REBOOT;
    return POWER_NONE;
}

/* Reaps until no child is left (true) or `ms` passed (false).  Every process
 * of the machine is a descendant of PID 1, so "no child" means "nothing left". */
static bool reap_all(unsigned ms)
{
    uint64_t deadline = now_ms() + ms;
    for (;;) {
        pid_t p;
        while ((p = waitpid(-1, NULL, WNOHANG)) > 0)
            ;
        if (p < 0 && errno == ECHILD)
            return true;
        if (now_ms() >= deadline)
            return false;
        sleep_ms(10);
    }
}

static void unmount_all(void)
{
    _cleanup_free_ char *mi = NULL;
    _cleanup_strv_ char **points = NULL;
    int r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", 1 << 22, &mi, NULL);
    if (r < 0 || boot_mountinfo_points(mi, &points) < 0) {
        log_warn("cannot read the mount table: %s; unmounting nothing", strerror(r < 0 ? -r : ENOMEM));
        return;
    }
    unsigned done = 0, detached = 0, failed = 0;
    for (size_t i = strv_len(points); i-- > 0;) {
        const char *p = points[i];
        if (strcmp(p, "/") == 0)
            continue;
        if (umount2(p, UMOUNT_NOFOLLOW) == 0) {
            done++;
        } else if (errno == EINVAL || errno == ENOENT) {
            /* Gone with a parent unmounted before it (or stacked): nothing to do. */
        } else if (umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
            detached++;
        } else {
            failed++;
            log_warn("cannot unmount %s: %s", p, strerror(errno));
        }
    }
    /* The root itself: read-only so nothing is written after sync. */
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0 && errno != EBUSY)
        log_debug("cannot remount / read-only: %s", strerror(errno));
    log_info("filesystems unmounted: %u, detached busy: %u, failed: %u", done, detached, failed);
}

void boot_final(enum power_action action)
{
    if (getpid() != 1) {
        /* kill(-1) outside PID 1 would kill the whole host. */
        log_error("cannot run the shutdown sequence: keel is not PID 1");
        for (;;)
            pause();
    }
    int cmd = RB_POWER_OFF;
    const char *what = "powering off";
    if (action == POWER_REBOOT)
        cmd = RB_AUTOBOOT, what = "rebooting";
    else if (action == POWER_HALT)
        cmd = RB_HALT_SYSTEM, what = "halting";
    log_info("shutdown: %s; stopping remaining processes", what);

    /* kill(-1) reaches every process but PID 1; orphans are all ours to reap.
     * (waitpid works whether or not SIGCHLD is blocked for the signalfd.) */
    if (kill(-1, SIGTERM) < 0 && errno != ESRCH)
        log_warn("cannot send SIGTERM to all processes: %s", strerror(errno));
    bool gone = reap_all(2000);
    if (!gone) {
        log_info("shutdown: sending SIGKILL to processes left");
        (void)kill(-1, SIGKILL);
        gone = reap_all(2000);
        if (!gone)
            log_warn("shutdown: some processes did not die");
    }
    sync();
    unmount_all();
    sync();
    log_info("shutdown: %s now", what);
    reboot(cmd);
    log_error("cannot %s: %s", what, strerror(errno));
    for (;;)
        pause();
}

void boot_rescue_shell(const char *path)
{
    if (!path || !*path) {
        log_error("cannot run a rescue shell: [system] rescue_shell is not set");
        return;
    }
    if (access(path, X_OK) < 0) {
        log_error("cannot run the rescue shell %s: %s", path, strerror(errno));
        return;
    }
    log_info("starting the rescue shell %s on the console; exit it to continue", path);
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cannot start the rescue shell %s: %s", path, strerror(errno));
        return;
    }
    if (pid == 0) {
        /* The child undoes what PID 1 set up for itself: blocked signals and
         * ignored dispositions survive exec otherwise. */
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int s = 1; s < NSIG; s++)
            if (s != SIGKILL && s != SIGSTOP)
                signal(s, SIG_DFL);
        setsid();
        (void)ioctl(0, TIOCSCTTY, 1);
        char *const argv[] = { (char *)path, NULL };
        execv(path, argv);
        log_error("cannot run the rescue shell %s: %s", path, strerror(errno));
        _exit(127);
    }
    for (;;) {
        int status;
        pid_t p = waitpid(-1, &status, 0);
        if (p == pid) {
            log_info("rescue shell exited");
            return;
        }
        if (p < 0 && errno != EINTR)
            return;
    }
}

void boot_fail(enum power_action on_error, const char *rescue_shell)
{
    if (on_error == POWER_SHELL) {
        boot_rescue_shell(rescue_shell);
        on_error = POWER_POWEROFF;
    } else if (on_error != POWER_REBOOT && on_error != POWER_HALT) {
        on_error = POWER_POWEROFF;
    }
    log_error("boot failed; %s in 5 s", on_error == POWER_REBOOT ? "rebooting" : on_error == POWER_HALT ? "halting" : "powering off");
    uint64_t end = now_ms() + 5000;
    while (now_ms() < end) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        sleep_ms(100);
    }
    boot_final(on_error);
}

/* ------------------------------------------------------------------------- */
/* Crash handler                                                             */
/* ------------------------------------------------------------------------- */

static void crash_write(const char *s)
{
    (void)!write(2, s, strlen(s));
}

static void on_crash(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    /* A fault the kernel raised has si_code > 0; the C library's abort and raise send
     * with tkill (SI_TKILL) to themselves.  kill(2) and sigqueue(3) from
     * anyone, keel included, say nothing about keel's state: ignored. */
    if (si->si_code <= 0 && !(si->si_code == SI_TKILL && si->si_pid == getpid()))
        return;
    if (getpid() != 1) {
        /* A forked helper of keel (a container's setup child): it dies of it
         * as any process would, and keel reports the failed start. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    char num[4] = { (char)('0' + sig / 10), (char)('0' + sig % 10), '\0', '\0' };
    crash_write("keel: fatal: keel crashed with signal ");
    crash_write(num);
    crash_write("; syncing and rebooting\n");
    sync();
    reboot(RB_AUTOBOOT);
    for (;;)
        pause();   /* reboot failed: hang in place rather than panic the kernel */
}

void boot_crash_handler_install(void)
{
    /* Its own stack, so that a stack overflow can still be reported. */
    static char alt[64 * 1024];
    stack_t st = { .ss_sp = alt, .ss_size = sizeof alt };
    if (sigaltstack(&st, NULL) < 0)
        log_warn("cannot set up the crash handler's stack: %s", strerror(errno));
    struct sigaction sa = { .sa_sigaction = on_crash, .sa_flags = SA_SIGINFO | SA_ONSTACK };
    sigemptyset(&sa.sa_mask);
    static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP };
    for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
        if (sigaction(fatal[i], &sa, NULL) < 0)
            log_warn("cannot install the crash handler for signal %d: %s", fatal[i], strerror(errno));
}
