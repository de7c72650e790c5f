/* fuzz_import.c — an image's config document (`keel import`: anyone's image)
 * read into the .image file's fields (import_read_config), then written as
 * that file (image_format) and read back as keel reads it at boot
 * (image_parse).
 *
 * fuzz-requires: src/import.c src/image.c src/json.c
 *
 * Input: the config's JSON, parsed as import parses it (json_parse_ex with
 * JSON_PARSE_FLOAT).
 *
 * Invariants beyond "no crash, no leak": a refused config says why; an
 * accepted one has env entries NAME=VALUE with a NAME, an absolute workdir,
 * a stop signal keel can name, no value holding a newline, a carriage
 * return or a NUL; image_format writes it (so an import never fails at
 * writing the .image after it extracted every layer) and image_parse reads
 * back the same image (an empty Env or ExposedPorts as none: the same
 * thing; an empty Entrypoint or Cmd stays empty, which is not none).
 */
#include "fuzz.h"

#include <errno.h>
#include <stdbool.h>

#include "keel/image.h"
#include "keel/import.h"
#include "keel/json.h"
#include "keel/parse.h"

static bool one_line(const char *s)
{
    return !s || !strpbrk(s, "\n\r");
}

static bool lines_ok(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        if (!one_line(v[i]))
            return false;
    return true;
}

/* For a repeatable key (env, expose): none and an empty list are the same
 * (the file cannot tell them apart, and neither adds anything). */
static bool same_list(char **a, char **b)
{
    return fuzz_same_strv(a && a[0] ? a : NULL, b && b[0] ? b : NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_value *root = NULL;
    struct kerr err = { 0 };
    if (json_parse_ex((const char *)data, size, 4u << 20, 200000, JSON_PARSE_FLOAT, &root, &err) < 0)
        return 0;
    struct image img;
    memset(&img, 0, sizeof img);
    int r = import_read_config(root, &img, &err);
    json_free(root);
    if (r < 0) {
        FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
        FUZZ_ASSERT(err.msg[0] != '\0');
        image_free(&img);
        return 0;
    }
    FUZZ_ASSERT(lines_ok(img.entrypoint) && lines_ok(img.cmd) && lines_ok(img.env) && lines_ok(img.expose) &&
                one_line(img.workdir) && one_line(img.user));
    for (size_t i = 0; img.env && img.env[i]; i++)
        FUZZ_ASSERT(img.env[i][0] != '=' && strchr(img.env[i], '='));
    FUZZ_ASSERT(!img.workdir || img.workdir[0] == '/');
    FUZZ_ASSERT(!img.stop_signal || strcmp(signal_name(img.stop_signal), "SIG?") != 0);
    /* What import_run adds: the layers and the name. */
    char *layers[] = { "/var/lib/keel/images/layers/sha256-00", NULL };
    img.layers = layers;
    img.name = "fuzz";
    char *text = image_format(&img);
    FUZZ_ASSERT(text != NULL);
    struct image back;
    FUZZ_ASSERT(image_parse("fuzz.image", NULL, text, strlen(text), &back, &err) == 0);
    FUZZ_ASSERT(fuzz_same_strv(img.layers, back.layers) && fuzz_same_strv(img.entrypoint, back.entrypoint) &&
                fuzz_same_strv(img.cmd, back.cmd) && same_list(img.env, back.env) && same_list(img.expose, back.expose) &&
                fuzz_same_str(img.workdir, back.workdir) && fuzz_same_str(img.user, back.user) &&
                fuzz_same_str(img.name, back.name) && img.stop_signal == back.stop_signal);
    image_free(&back);
    free(text);
    img.layers = NULL;
    img.name = NULL;
    image_free(&img);
    return 0;
}
