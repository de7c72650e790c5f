/* layerimg.c — erofs and squashfs image files as shared, read-only layers
 * (layerimg.h). */
#include "keel/layerimg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keel/fsmagic.h"
#include "keel/log.h"
#include "keel/util.h"

/* LOOP_CTL_GET_FREE hands out a device that another process (losetup, a
 * second keel) may configure before keel does: LOOP_CONFIGURE then fails
 * with EBUSY and keel asks again, a bounded number of times. */
#define LOOP_ATTEMPTS 16

struct image {
    dev_t dev;
    ino_t ino;
    enum fsmagic_kind kind;
    unsigned users;
    char dir[PATH_MAX];      /* RUN_DIR/images/DEV-INO */
};

struct layerimg_set {
    char root[PATH_MAX];     /* RUN_DIR/images */
    bool root_made;          /* it exists (made, or found): removed at the end */
    struct image *img;
    size_t n, cap;
};

/* Unmounts DIR (a detach when something still holds it busy) and removes it. */
static void unmount_dir(const char *dir)
{
    if (umount2(dir, UMOUNT_NOFOLLOW) < 0 && errno == EBUSY && umount2(dir, UMOUNT_NOFOLLOW | MNT_DETACH) < 0)
        log_warn("cannot unmount the layer image at %s: %s", dir, strerror(errno));
    if (rmdir(dir) < 0 && errno != ENOENT)
        log_warn("cannot remove %s: %s", dir, strerror(errno));
}

int layerimg_set_new(const char *run_dir, struct layerimg_set **out, struct kerr *err)
{
    struct layerimg_set *s = calloc(1, sizeof *s);
    if (!s)
        return kerr_set(err, ENOMEM, "cannot create the layer image set");
    if (snprintf(s->root, sizeof s->root, "%s/images", run_dir) >= (int)sizeof s->root) {
        free(s);
        return kerr_set(err, ENAMETOOLONG, "cannot use %s/images", run_dir);
    }
    /* What a keel that died left mounted here (keel run on a host keeps its
     * run directory): detached, so its loop devices go too. */
    DIR *d = opendir(s->root);
    if (d) {
        s->root_made = true;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char p[PATH_MAX];
            if (snprintf(p, sizeof p, "%s/%s", s->root, e->d_name) >= (int)sizeof p)
                continue;
            if (umount2(p, UMOUNT_NOFOLLOW | MNT_DETACH) == 0)
                log_warn("detached the layer image %s a previous keel left mounted", p);
            (void)rmdir(p);
        }
        closedir(d);
    }
    *out = s;
    return 0;
}

void layerimg_set_free(struct layerimg_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        unmount_dir(s->img[i].dir);
    if (s->n)
        log_info("layer images unmounted: %zu", s->n);
    if (s->root_made)
        (void)rmdir(s->root);   /* no rmdir that fails by design in every keel run */
    free(s->img);
    free(s);
}

size_t layerimg_count(const struct layerimg_set *s)
{
    return s ? s->n : 0;
}

/* Attaches the open image file FD to a free loop device, read-only and
 * auto-clearing.  Returns the device's fd (O_CLOEXEC; the caller closes it
 * once the device is mounted) and fills DEV, or -errno. */
static int loop_attach(int fd, const char *path, char dev[32], struct kerr *err)
{
    _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0)
        return kerr_set(err, errno, "cannot attach %s to a loop device: cannot open /dev/loop-control", path);
    uint32_t flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
    for (int attempt = 0; attempt < LOOP_ATTEMPTS; attempt++) {
        int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (nr < 0)
            return kerr_set(err, errno, "cannot attach %s: no free loop device", path);
        snprintf(dev, 32, "/dev/loop%d", nr);
        /* Read-only is enough to configure it, and all a read-only device needs. */
        _cleanup_close_ int lfd = open(dev, O_RDONLY | O_CLOEXEC);
        if (lfd < 0)
            return kerr_set(err, errno, "cannot attach %s: cannot open %s", path, dev);
        struct loop_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.fd = (uint32_t)fd;
        cfg.info.lo_flags = flags;
        snprintf((char *)cfg.info.lo_file_name, sizeof cfg.info.lo_file_name, "%s", path);
        if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
            struct loop_info64 info;
            if ((flags & LO_FLAGS_DIRECT_IO) &&
                (ioctl(lfd, LOOP_GET_STATUS64, &info) < 0 || !(info.lo_flags & LO_FLAGS_DIRECT_IO)))
                log_debug("%s on %s: without direct I/O (the kernel kept it off for this file)", path, dev);
            return TAKE_FD(lfd);
        }
        int e = errno;
        if (e == EBUSY)
            continue;   /* taken between GET_FREE and CONFIGURE: ask again */
        if (e == EINVAL && (flags & LO_FLAGS_DIRECT_IO)) {
            /* Newer kernels refuse direct I/O the backing file cannot do. */
            log_debug("%s on %s: without direct I/O (refused: %s)", path, dev, strerror(e));
            flags &= ~(uint32_t)LO_FLAGS_DIRECT_IO;
            attempt--;
            continue;
        }
        return kerr_set(err, e, "cannot attach %s to %s", path, dev);
    }
    return kerr_msg(err, EBUSY, "cannot attach %s to a loop device: another process took each free one (%d tries)",
                    path, LOOP_ATTEMPTS);
}

/* The image at PATH, mounted (a new one) or already in S: its index, or -errno. */
static int image_get(struct layerimg_set *s, const char *path, int fd, const struct stat *st, struct kerr *err)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->img[i].dev == st->st_dev && s->img[i].ino == st->st_ino)
            return (int)i;
    enum fsmagic_kind kind;
    int r = fsmagic_probe_fd(fd, path, &kind, err);
    if (r < 0)
        return r;
    if (!fsmagic_is_layer(kind))
        return kerr_msg(err, EINVAL, "layer %s is neither a directory nor an erofs or squashfs image (%s%s)", path,
                        kind == FSMAGIC_UNKNOWN ? "no known superblock" : "it is ",
                        kind == FSMAGIC_UNKNOWN ? "" : fsmagic_name(kind));
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        struct image *img = realloc(s->img, cap * sizeof *img);
        if (!img)
            return kerr_set(err, ENOMEM, "cannot attach %s", path);
        s->img = img;
        s->cap = cap;
    }
    struct image *im = &s->img[s->n];
    memset(im, 0, sizeof *im);
    im->dev = st->st_dev;
    im->ino = st->st_ino;
    im->kind = kind;
    if (snprintf(im->dir, sizeof im->dir, "%s/%llx-%llx", s->root, (unsigned long long)st->st_dev,
                 (unsigned long long)st->st_ino) >= (int)sizeof im->dir)
        return kerr_set(err, ENAMETOOLONG, "cannot mount %s under %s", path, s->root);
    if ((r = mkdir_p(s->root, 0700)) < 0)
        return kerr_set(err, -r, "cannot create %s", s->root);
    s->root_made = true;
    if (mkdir(im->dir, 0700) < 0 && errno != EEXIST)
        return kerr_set(err, errno, "cannot create %s", im->dir);
    char dev[32];
    _cleanup_close_ int lfd = loop_attach(fd, path, dev, err);
    if (lfd < 0) {
        (void)rmdir(im->dir);
        return lfd;
    }
    const char *type = fsmagic_name(kind);
    if (mount(dev, im->dir, type, MS_RDONLY | MS_NODEV | MS_NOSUID, NULL) < 0) {
        int e = errno;
        (void)rmdir(im->dir);
        /* Closing lfd (on return) detaches the device: AUTOCLEAR, nothing mounted it. */
        if (e == ENODEV)
            return kerr_msg(err, e, "cannot mount the %s image %s: this kernel has no %s file system "
                            "(modules = %s)", type, path, type, type);
        return kerr_set(err, e, "cannot mount the %s image %s (on %s)", type, path, dev);
    }
    log_info("layer image %s (%s) on %s, mounted at %s", path, type, dev, im->dir);
    return (int)s->n++;
}

static void image_put(struct layerimg_set *s, size_t i)
{
    if (s->img[i].users && --s->img[i].users)
        return;
    unmount_dir(s->img[i].dir);
    log_info("layer image at %s unmounted: no container uses it", s->img[i].dir);
    s->img[i] = s->img[--s->n];
}

static int image_find_dir(const struct layerimg_set *s, const char *dir)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->img[i].dir, dir) == 0)
            return (int)i;
    return -1;
}

int layerimg_acquire(struct layerimg_set *s, char *const *layers, char ***lowers, struct kerr *err)
{
    _cleanup_strv_ char **out = calloc(1, sizeof *out);
    if (!out)
        return kerr_set(err, ENOMEM, "cannot prepare the layers");
    int r = 0;
    for (size_t i = 0; layers && layers[i] && r == 0; i++) {
        const char *p = layers[i];
        _cleanup_close_ int fd = -1;
        struct stat st;
        int o = fsmagic_open(p, &st, &fd, err);
        if (o < 0) {
            r = o;   /* "cannot open LAYER: why" */
        } else if (S_ISDIR(st.st_mode)) {
            r = strv_push(&out, p) < 0 ? kerr_set(err, ENOMEM, "cannot prepare the layers") : 0;
        } else if (fd < 0) {
            r = kerr_msg(err, EINVAL, "layer %s is neither a directory nor an erofs or squashfs image file", p);
        } else if ((r = image_get(s, p, fd, &st, err)) >= 0) {
            s->img[r].users++;
            r = strv_push(&out, s->img[r].dir) < 0 ? kerr_set(err, ENOMEM, "cannot prepare the layers") : 0;
        }
    }
    if (r < 0) {
        /* Nothing held on failure: the images taken so far go back. */
        layerimg_release(s, out);
        return r;
    }
    *lowers = TAKE_PTR(out);
    return 0;
}

void layerimg_release(struct layerimg_set *s, char *const *lowers)
{
    for (size_t i = 0; s && lowers && lowers[i]; i++) {
        int k = image_find_dir(s, lowers[i]);
        if (k >= 0)
            image_put(s, (size_t)k);
    }
}

/* The image kind of PATH, FSMAGIC_UNKNOWN for anything but a readable regular file. */
static enum fsmagic_kind kind_of(const char *path)
{
    _cleanup_close_ int fd = -1;
    struct stat st;
    enum fsmagic_kind kind = FSMAGIC_UNKNOWN;
    if (fsmagic_open(path, &st, &fd, NULL) < 0 || fd < 0 || fsmagic_probe_fd(fd, path, &kind, NULL) < 0)
        return FSMAGIC_UNKNOWN;
    return kind;
}

/* Appends loop and the file systems of the image layers (erofs, squashfs) of
 * the n containers at c to *names, each once. */
static int modules_of(const struct container_spec *c, size_t n, char ***names)
{
    bool erofs = false, squashfs = false;
    for (size_t i = 0; i < n; i++)
        for (size_t l = 0; c[i].layers && c[i].layers[l]; l++) {
            enum fsmagic_kind k = kind_of(c[i].layers[l]);
            erofs |= k == FSMAGIC_EROFS;
            squashfs |= k == FSMAGIC_SQUASHFS;
        }
    if ((erofs || squashfs) && !strv_contains(*names, "loop") && strv_push(names, "loop") < 0)
        return -ENOMEM;
    if (erofs && !strv_contains(*names, "erofs") && strv_push(names, "erofs") < 0)
        return -ENOMEM;
    if (squashfs && !strv_contains(*names, "squashfs") && strv_push(names, "squashfs") < 0)
        return -ENOMEM;
    return 0;
}

int layerimg_modules(const struct manifest *m, char ***names)
{
    return modules_of(m->containers, m->n_containers, names);
}

int layerimg_container_modules(const struct container_spec *c, char ***names)
{
    return modules_of(c, 1, names);
}

void layerimg_plan(const struct container_spec *c, FILE *out)
{
    for (size_t l = 0; c->layers && c->layers[l]; l++) {
        enum fsmagic_kind k = kind_of(c->layers[l]);
        if (fsmagic_is_layer(k))
            fprintf(out, "  layer image: %s (%s) on a read-only loop device, mounted once (nodev, nosuid) "
                    "under RUN_DIR/images and shared\n", c->layers[l], fsmagic_name(k));
    }
}
