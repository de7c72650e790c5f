/* test_layerimg.c — the parts of layerimg that need no loop device: which
 * modules a manifest's image layers need at boot, and a layer that is
 * neither a directory nor an image refused before anything is attached.
 * Attaching, sharing and detaching are tests/host/test_images.sh's. */
#include "keel/layerimg.h"
#include "keel/util.h"
#include "unit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/keel-layerimg.XXXXXX";

/* DIR/NAME holding a superblock of KIND ("erofs", "squashfs" or "junk"). */
static char *image(const char *name, const char *kind)
{
    unsigned char buf[2048] = { 0 };
    if (strcmp(kind, "erofs") == 0) {
        buf[1024] = 0xE2, buf[1025] = 0xE1, buf[1026] = 0xF5, buf[1027] = 0xE0;
        buf[1024 + 12] = 12;
    } else if (strcmp(kind, "squashfs") == 0) {
        memcpy(buf, "hsqs", 4);
        buf[28] = 4;
    }
    char *p = xasprintf("%s/%s", dir, name);
    FILE *f = p ? fopen(p, "w") : NULL;
    if (f) {
        fwrite(buf, 1, sizeof buf, f);
        fclose(f);
    }
    return p;
}

static size_t modules_of(char **layers_a, char **layers_b, char ***names)
{
    struct container_spec c[2];
    memset(c, 0, sizeof c);
    c[0].layers = layers_a;
    c[1].layers = layers_b;
    struct manifest m;
    memset(&m, 0, sizeof m);
    m.containers = c;
    m.n_containers = layers_b ? 2 : 1;
    *names = NULL;
    CHECK_INT(layerimg_modules(&m, names), 0);
    return strv_len(*names);
}

TEST(modules)
{
    _cleanup_free_ char *e = image("a.erofs", "erofs"), *q = image("b.sqfs", "squashfs"),
                        *j = image("c.img", "junk");
    char *only_dir[] = { dir, NULL };
    char *with_erofs[] = { e, dir, NULL };
    char *with_both[] = { q, j, NULL };
    char **names;
    CHECK_INT(modules_of(only_dir, NULL, &names), 0);
    strv_free(names);
    CHECK_INT(modules_of(with_erofs, only_dir, &names), 2);
    CHECK(strv_contains(names, "loop") && strv_contains(names, "erofs"));
    strv_free(names);
    /* Both kinds across containers, each module once; the junk file needs none. */
    CHECK_INT(modules_of(with_erofs, with_both, &names), 3);
    CHECK(strv_contains(names, "loop") && strv_contains(names, "erofs") && strv_contains(names, "squashfs"));
    strv_free(names);
}

TEST(refused_before_attach)
{
    struct layerimg_set *s = NULL;
    struct kerr err = { 0 };
    _cleanup_free_ char *run = xasprintf("%s/run", dir), *j = image("junk.img", "junk");
    CHECK_INT(layerimg_set_new(run, &s, &err), 0);
    char *layers[] = { dir, j, NULL };
    char **lowers = NULL;
    CHECK_INT(layerimg_acquire(s, layers, &lowers, &err), -EINVAL);
    CHECK(lowers == NULL);
    CHECK(strstr(err.msg, "is neither a directory nor an erofs or squashfs image (no known superblock)") != NULL);
    char *missing[] = { "/nonexistent-keel-layer", NULL };
    CHECK_INT(layerimg_acquire(s, missing, &lowers, &err), -ENOENT);
    CHECK(strstr(err.msg, "cannot open /nonexistent-keel-layer") != NULL);
    /* Directories alone: the same list back, nothing mounted. */
    char *dirs[] = { dir, run, NULL };
    mkdir(run, 0700);
    CHECK_INT(layerimg_acquire(s, dirs, &lowers, &err), 0);
    CHECK(lowers && lowers[0] && strcmp(lowers[0], dir) == 0 && lowers[1] && strcmp(lowers[1], run) == 0 &&
          !lowers[2]);
    CHECK_INT(layerimg_count(s), 0);
    layerimg_release(s, lowers);
    strv_free(lowers);
    layerimg_set_free(s);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(modules);
    RUN(refused_before_attach);
    static const char *const made[] = { "a.erofs", "b.sqfs", "c.img", "junk.img", "run/images", "run" };
    for (size_t i = 0; i < ARRAY_SIZE(made); i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, made[i]);
        if (unlink(p) < 0)
            (void)rmdir(p);
    }
    (void)rmdir(dir);
    return unit_done();
}
