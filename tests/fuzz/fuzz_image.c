/* fuzz_image.c — the .image file (image.h): written by `keel import` from an
 * image's config, which is untrusted, and read with the manifest at boot.
 *
 * fuzz-requires: src/image.c src/parse.c
 *
 * Invariants beyond "no crash, no leak": a rejected file says why with
 * "FILE:LINE: " or "FILE: "; an accepted one has at least one layer, every
 * layer absolute (the relative ones joined to the directory) without "..",
 * ':' or ','; a workdir is absolute; every env has a NAME before '='; and
 * image_format() of the result parses again into the same image.  The
 * buffer is also parsed without a directory (then a relative layer is an
 * error, never a relative path).
 */
#include "fuzz.h"

#include <errno.h>
#include <stdbool.h>

#include "keel/image.h"

static void check(const struct image *img)
{
    FUZZ_ASSERT(img->layers && img->layers[0]);
    for (size_t i = 0; img->layers[i]; i++) {
        const char *l = img->layers[i];
        FUZZ_ASSERT(l[0] == '/' && !strchr(l, ':') && !strchr(l, ','));
        FUZZ_ASSERT(!strstr(l, "/../") && strcmp(l + strlen(l) - (strlen(l) >= 3 ? 3 : 0), "/..") != 0);
    }
    FUZZ_ASSERT(!img->workdir || img->workdir[0] == '/');
    for (size_t i = 0; img->env && img->env[i]; i++)
        FUZZ_ASSERT(strchr(img->env[i], '=') && img->env[i][0] != '=');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_str(data, size);
    struct image img;
    struct kerr err = { 0 };
    int r = image_parse("f.image", "/d", buf, size, &img, &err);
    if (r < 0) {
        FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
        if (r == -EINVAL)
            FUZZ_ASSERT(strncmp(err.msg, "f.image:", 8) == 0);
    } else {
        check(&img);
        char *text = image_format(&img);
        if (text) {
            struct image again;
            FUZZ_ASSERT(image_parse("g.image", NULL, text, strlen(text), &again, &err) == 0);
            FUZZ_ASSERT(fuzz_same_strv(img.layers, again.layers) && fuzz_same_strv(img.entrypoint, again.entrypoint) &&
                        fuzz_same_strv(img.cmd, again.cmd) && fuzz_same_strv(img.env, again.env) &&
                        fuzz_same_strv(img.expose, again.expose) && fuzz_same_str(img.workdir, again.workdir) &&
                        fuzz_same_str(img.user, again.user) && fuzz_same_str(img.name, again.name) &&
                        fuzz_same_str(img.digest, again.digest) && img.stop_signal == again.stop_signal);
            image_free(&again);
            free(text);
        }
        image_free(&img);
    }
    struct image nodir;
    if (image_parse("f.image", NULL, buf, size, &nodir, &err) == 0) {
        check(&nodir);
        image_free(&nodir);
    }
    free(buf);
    return 0;
}
