/* fuzz_importplan.c — an image's index.json or manifest.json and the
 * manifests and config they name (`keel import`: anyone's image) read into
 * the import's plan (import_plan_oci, import_plan_docker), and the default
 * name made from its tag (import_name_from_ref).
 *
 * fuzz-requires: src/import.c src/json.c src/unpack.c
 *
 * Input: one byte (bit 0: docker save's manifest.json, else an OCI
 * index.json; bit 1: the arm64 build's platform, else the x86-64 build's),
 * then the documents separated by "\n--\n": the k-th document
 * the plan reader asks for is the k-th of the input, whatever its path (the
 * real reader has checked its digest and size by then), parsed as import
 * parses it (json_parse_ex with JSON_PARSE_FLOAT).  A missing one is a
 * member the archive does not hold.
 *
 * The reader refuses a path that is absolute or has a ".." component, as
 * import's does (docker save's names are the author's: the plan passes them
 * on, the source checks them).
 *
 * Invariants beyond "no crash, no leak": the reader is asked for a
 * document with a digest of 64 lowercase hex digits (none only for the
 * first document); a refused plan says why; an accepted one has a
 * config, a digest of 64 hex digits, at most IMAGE_LAYERS_MAX layers, each
 * with a 64-hex digest and a path (OCI: blobs/sha256/HEX with its declared
 * size; docker save: no size); a name made from a tag (or from any text) is
 * one keel accepts as an image name.
 */
#include "fuzz.h"

#include <errno.h>
#include <stdbool.h>

#include "keel/err.h"
#include "keel/image.h"
#include "keel/import.h"
#include "keel/json.h"
#include "keel/unpack.h"

#define DOCS_MAX 8

struct docs {
    char *doc[DOCS_MAX];
    size_t n, next;
};

static bool is_hex64(const char *h)
{
    return h && strlen(h) == 64 && strspn(h, "0123456789abcdef") == 64;
}


static int serve(void *ctx, const char *path, const char *want, int64_t size, struct json_value **out,
                 struct kerr *err)
{
    struct docs *d = ctx;
    FUZZ_ASSERT(path && path[0]);
    FUZZ_ASSERT(d->next == 0 ? want == NULL : is_hex64(want));
    FUZZ_ASSERT(size >= -1);
    /* As import's source refuses them (source_open): manifest.json's names
     * are the image author's. */
    char *clean = strdup(path);
    FUZZ_ASSERT(clean != NULL);
    int r = unpack_clean_path(clean);
    free(clean);
    if (r < 0)
        return kerr_msg(err, EINVAL, "the image names %s: an absolute path or '..'", path);
    if (d->next >= d->n)
        return kerr_msg(err, ENOENT, "the image names %s, which the archive does not hold", path);
    const char *s = d->doc[d->next++];
    if (json_parse_ex(s, strlen(s), 4u << 20, 200000, JSON_PARSE_FLOAT, out, err) < 0)
        return kerr_prefix(err, "%s in the image is not valid JSON", path);
    return 0;
}

/* What import_run would name the image: the rules of its --name. */
static void check_name(const char *ref)
{
    char *name = import_name_from_ref(ref);
    if (!name)
        return;
    size_t n = strlen(name);
    FUZZ_ASSERT(n > 0 && n <= 128 && name[0] != '.' && name[0] != '-');
    FUZZ_ASSERT(strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n);
    free(name);
}

static void check_plan(const struct import_plan *p, bool docker)
{
    FUZZ_ASSERT(p->config != NULL);
    FUZZ_ASSERT(is_hex64(p->digest));
    FUZZ_ASSERT(p->n <= IMAGE_LAYERS_MAX);
    for (size_t i = 0; i < p->n; i++) {
        const struct import_layer *l = &p->layers[i];
        FUZZ_ASSERT(is_hex64(l->hex));
        FUZZ_ASSERT(l->path && l->path[0]);
        if (docker) {
            FUZZ_ASSERT(l->size == -1);
        } else {
            FUZZ_ASSERT(l->size >= 0);
            FUZZ_ASSERT(strncmp(l->path, "blobs/sha256/", 13) == 0 && strcmp(l->path + 13, l->hex) == 0);
        }
    }
    check_name(p->ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool docker = data[0] & 1;
    struct import_platform want;
    FUZZ_ASSERT(import_platform_parse(data[0] & 2 ? "linux/arm64/v8" : "linux/amd64", &want, NULL) == 0);
    data++;
    size--;
    struct docs d = { .n = 0 };
    while (size && d.n < DOCS_MAX)
        fuzz_cut(&data, &size, "\n--\n", &d.doc[d.n++]);
    struct import_docs docs = { .read_json = serve, .ctx = &d };
    struct import_plan p;
    memset(&p, 0, sizeof p);
    struct kerr err = { 0 };
    int r = docker ? import_plan_docker(&docs, &want, &p, &err) : import_plan_oci(&docs, &want, &p, &err);
    if (r < 0) {
        FUZZ_ASSERT(err.msg[0] != '\0');
    } else {
        FUZZ_ASSERT(r == 0);
        check_plan(&p, docker);
    }
    import_plan_free(&p);
    if (d.n)
        check_name(d.doc[0]);
    for (size_t i = 0; i < d.n; i++)
        free(d.doc[i]);
    return 0;
}
