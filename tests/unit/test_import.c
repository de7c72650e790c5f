/* test_import.c — keel import's plan readers (import_plan_oci,
 * import_plan_docker) over documents held in memory, and the default name
 * from a tag (import_name_from_ref): the edges of what an image's author
 * can write. */
#include "unit.h"

#include <errno.h>
#include <stdlib.h>

#include "keel/image.h"
#include "keel/import.h"
#include "keel/json.h"
#include "keel/util.h"

#define H(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c   /* 32 copies of a 2-digit pair */
#define HA H("aa")
#define HB H("bb")
#define HC H("cc")
#define HD H("dd")

/* The documents of one test image: path -> JSON text; every read is logged. */
struct doc {
    const char *path, *json;
};

struct docs {
    const struct doc *d;
    char asked[512];   /* "path want size;" per read */
};

static int serve(void *ctx, const char *path, const char *want, int64_t size, struct json_value **out,
                 struct kerr *err)
{
    struct docs *ds = ctx;
    size_t l = strlen(ds->asked);
    snprintf(ds->asked + l, sizeof ds->asked - l, "%s %.4s %lld;", path, want ? want : "-", (long long)size);
    for (const struct doc *d = ds->d; d->path; d++)
        if (strcmp(d->path, path) == 0)
            return json_parse_ex(d->json, strlen(d->json), 1 << 20, 10000, JSON_PARSE_FLOAT, out, err);
    return kerr_msg(err, ENOENT, "the image names %s, which the archive does not hold", path);
}

static int plan(bool docker, const struct doc *d, struct import_plan *p, struct kerr *err, char *asked, size_t n)
{
    struct docs ds = { .d = d };
    struct import_docs docs = { .read_json = serve, .ctx = &ds };
    memset(p, 0, sizeof *p);
    memset(err, 0, sizeof *err);
    int r = docker ? import_plan_docker(&docs, p, err) : import_plan_oci(&docs, p, err);
    if (asked)
        snprintf(asked, n, "%s", ds.asked);
    return r;
}

#define MANIFEST_DESC(hex, size, extra) \
    "{\"digest\":\"sha256:" hex "\",\"size\":" #size extra "}"
#define ONE_LAYER_MANIFEST \
    "{\"config\":" MANIFEST_DESC(HB, 13, "") ",\"layers\":[" MANIFEST_DESC(HC, 100, "") "," MANIFEST_DESC(HD, 0, "") "]}"

TEST(oci_plain)
{
    const struct doc d[] = {
        { "index.json", "{\"manifests\":[" MANIFEST_DESC(HA, 99, ",\"annotations\":{\"io.containerd.image.name\":"
                                                              "\"example.org/web:1.2\",\"org.opencontainers.image."
                                                              "ref.name\":\"1.2\"}") "]}" },
        { "blobs/sha256/" HA, ONE_LAYER_MANIFEST },
        { "blobs/sha256/" HB, "{\"config\":{}}" },
        { NULL, NULL },
    };
    struct import_plan p;
    struct kerr err;
    char asked[512];
    CHECK_INT(plan(false, d, &p, &err, asked, sizeof asked), 0);
    /* The manifest and the config with their digests and declared sizes. */
    CHECK_STR(asked, "index.json - -1;blobs/sha256/" HA " aaaa 99;blobs/sha256/" HB " bbbb 13;");
    CHECK_STR(p.digest, HA);
    CHECK_STR(p.ref, "example.org/web:1.2");   /* the full name before ref.name */
    CHECK(p.config != NULL);
    CHECK_INT(p.n, 2);
    if (p.n == 2) {
        CHECK_STR(p.layers[0].path, "blobs/sha256/" HC);
        CHECK_STR(p.layers[0].hex, HC);
        CHECK_INT(p.layers[0].size, 100);
        CHECK_INT(p.layers[1].size, 0);
    }
    import_plan_free(&p);
}

/* A multi-platform index: linux/amd64 is taken wherever it is listed; one
 * nested index is read, a second is refused. */
TEST(oci_nested)
{
    const char *platforms = "{\"manifests\":["
        MANIFEST_DESC(HD, 1, ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}") ","
        MANIFEST_DESC(HA, 2, ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}") "]}";
    const struct doc d[] = {
        { "index.json", "{\"manifests\":[" MANIFEST_DESC(HC, 3, "") "]}" },
        { "blobs/sha256/" HC, platforms },
        { "blobs/sha256/" HA, ONE_LAYER_MANIFEST },
        { "blobs/sha256/" HB, "{}" },
        { NULL, NULL },
    };
    struct import_plan p;
    struct kerr err;
    CHECK_INT(plan(false, d, &p, &err, NULL, 0), 0);
    CHECK_STR(p.digest, HA);
    CHECK(p.ref == NULL);
    CHECK_INT(p.n, 2);
    import_plan_free(&p);

    const struct doc deep[] = {
        { "index.json", "{\"manifests\":[" MANIFEST_DESC(HC, 3, "") "]}" },
        { "blobs/sha256/" HC, "{\"manifests\":[" MANIFEST_DESC(HD, 3, "") "]}" },
        { "blobs/sha256/" HD, "{\"manifests\":[" MANIFEST_DESC(HA, 3, "") "]}" },
        { NULL, NULL },
    };
    CHECK_INT(plan(false, deep, &p, &err, NULL, 0), -EINVAL);
    CHECK_STR(err.msg, "index.json nests indexes deeper than two levels");
    import_plan_free(&p);
}

/* Each refusal names what is wrong. */
TEST(oci_refused)
{
    static const struct {
        const char *index, *manifest, *msg;
    } cases[] = {
        { "{}", NULL, "index.json lists no manifest" },
        { "{\"manifests\":[]}", NULL, "index.json lists no manifest" },
        { "[1]", NULL, "index.json lists no manifest" },
        { "{\"manifests\":[{\"digest\":\"sha512:" HA HA "\",\"size\":1}]}", NULL,
          "the image's manifest has no sha256 digest (other algorithms are not supported)" },
        { "{\"manifests\":[{\"digest\":\"sha256:" HA "\"}]}", NULL, "the image's manifest has no size" },
        { "{\"manifests\":[{\"digest\":\"sha256:" HA "\",\"size\":-1}]}", NULL, "the image's manifest has no size" },
        { "{\"manifests\":[{\"digest\":\"sha256:" HA "0\",\"size\":1}]}", NULL,
          "the image's manifest has no sha256 digest (other algorithms are not supported)" },
        { "{\"manifests\":[" MANIFEST_DESC(HA, 1, "") "]}", "{\"config\":" MANIFEST_DESC(HB, 1, "") "}",
          "the image manifest has no list of layers" },
        { "{\"manifests\":[" MANIFEST_DESC(HA, 1, "") "]}",
          "{\"config\":" MANIFEST_DESC(HB, 1, "") ",\"layers\":[{\"mediaType\":\"application/vnd.docker.image."
          "rootfs.foreign.diff.tar.gzip+nondistributable\"}]}",
          "layer 0 is a foreign layer (application/vnd.docker.image.rootfs.foreign.diff.tar.gzip+nondistributable): "
          "not in the archive" },
        { "{\"manifests\":[" MANIFEST_DESC(HA, 1, "") "]}",
          "{\"config\":" MANIFEST_DESC(HB, 1, "") ",\"layers\":[{\"digest\":\"sha256:" HC "\",\"size\":\"1\"}]}",
          "the image's layer has no size" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct doc d[] = {
            { "index.json", cases[i].index },
            { "blobs/sha256/" HA, cases[i].manifest ? cases[i].manifest : "{}" },
            { "blobs/sha256/" HB, "{}" },
            { NULL, NULL },
        };
        struct import_plan p;
        struct kerr err;
        CHECK_INT(plan(false, d, &p, &err, NULL, 0), -EINVAL);
        CHECK_STR(err.msg, cases[i].msg);
        import_plan_free(&p);
    }
}

/* More layers than a manifest may list is refused while planning. */
TEST(oci_too_many_layers)
{
    char *man = strdup("{\"config\":" MANIFEST_DESC(HB, 1, "") ",\"layers\":[");
    for (int i = 0; man && i <= IMAGE_LAYERS_MAX; i++) {
        char *next = xasprintf("%s%s" MANIFEST_DESC(HC, 1, ""), man, i ? "," : "");
        free(man);
        man = next;
    }
    char *whole = man ? xasprintf("%s]}", man) : NULL;
    free(man);
    CHECK(whole != NULL);
    const struct doc d[] = {
        { "index.json", "{\"manifests\":[" MANIFEST_DESC(HA, 1, "") "]}" },
        { "blobs/sha256/" HA, whole ? whole : "{}" },
        { "blobs/sha256/" HB, "{}" },
        { NULL, NULL },
    };
    struct import_plan p;
    struct kerr err;
    CHECK_INT(plan(false, d, &p, &err, NULL, 0), -EINVAL);
    CHECK_STR(err.msg, "the image has more than 128 layers");
    CHECK_INT(p.n, IMAGE_LAYERS_MAX);
    import_plan_free(&p);
    free(whole);
}

#define DIFFS "{\"rootfs\":{\"diff_ids\":[\"sha256:" HC "\",\"sha256:" HD "\"]}}"

/* docker save: legacy HEX/layer.tar names are checked against the config's
 * DiffIDs (the name's own hex is not trusted); blobs/sha256/HEX by name. */
TEST(docker_plain)
{
    const struct doc d[] = {
        { "manifest.json", "[{\"Config\":\"" HB ".json\",\"RepoTags\":[\"app:7\"],"
                           "\"Layers\":[\"x/layer.tar\",\"blobs/sha256/" HA "\"]}]" },
        { HB ".json", DIFFS },
        { NULL, NULL },
    };
    struct import_plan p;
    struct kerr err;
    char asked[512];
    CHECK_INT(plan(true, d, &p, &err, asked, sizeof asked), 0);
    CHECK_STR(asked, "manifest.json - -1;" HB ".json bbbb -1;");
    CHECK_STR(p.digest, HB);
    CHECK_STR(p.ref, "app:7");
    CHECK_INT(p.n, 2);
    if (p.n == 2) {
        CHECK_STR(p.layers[0].path, "x/layer.tar");
        CHECK_STR(p.layers[0].hex, HC);
        CHECK_INT(p.layers[0].size, -1);
        CHECK_STR(p.layers[1].hex, HA);
    }
    import_plan_free(&p);
}

TEST(docker_refused)
{
    static const struct {
        const char *manifest, *config, *msg;
    } cases[] = {
        { "{}", "{}", "manifest.json names no Config and Layers" },
        { "[]", "{}", "manifest.json names no Config and Layers" },
        { "[{\"Config\":\"" HB ".json\"}]", "{}", "manifest.json names no Config and Layers" },
        { "[{\"Config\":\"" HB ".json\",\"Layers\":[]},{}]", "{}",
          "manifest.json holds 2 images; keel import takes one (docker save IMAGE)" },
        { "[{\"Config\":\"config.json\",\"Layers\":[]}]", "{}",
          "manifest.json's Config config.json is not named by its sha256" },
        { "[{\"Config\":\"" HB "x\",\"Layers\":[]}]", "{}",
          "manifest.json's Config " HB "x is not named by its sha256" },
        { "[{\"Config\":\"" HB ".json\",\"Layers\":[1]}]", "{}",
          "manifest.json's Layers holds a value that is not a path" },
        { "[{\"Config\":\"" HB ".json\",\"Layers\":[\"l.tar\"]}]", "{}",
          "layer l.tar has no sha256 to check it against (no matching DiffID)" },
        /* Three layers, two DiffIDs: none is matched by position. */
        { "[{\"Config\":\"" HB ".json\",\"Layers\":[\"a\",\"b\",\"c\"]}]", DIFFS,
          "layer a has no sha256 to check it against (no matching DiffID)" },
        /* A legacy name's own hex is not a digest keel checks. */
        { "[{\"Config\":\"" HB ".json\",\"Layers\":[\"" HA "/layer.tar\"]}]", "{}",
          "layer " HA "/layer.tar has no sha256 to check it against (no matching DiffID)" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct doc d[] = {
            { "manifest.json", cases[i].manifest },
            { HB ".json", cases[i].config },
            { NULL, NULL },
        };
        struct import_plan p;
        struct kerr err;
        CHECK_INT(plan(true, d, &p, &err, NULL, 0), -EINVAL);
        CHECK_STR(err.msg, cases[i].msg);
        import_plan_free(&p);
    }
    /* A config the archive does not hold: the reader's error as it is. */
    const struct doc none[] = { { "manifest.json", "[{\"Config\":\"" HB ".json\",\"Layers\":[]}]" }, { NULL, NULL } };
    struct import_plan p;
    struct kerr err;
    CHECK_INT(plan(true, none, &p, &err, NULL, 0), -ENOENT);
    CHECK_STR(err.msg, "the image names " HB ".json, which the archive does not hold");
    import_plan_free(&p);
}

TEST(name_from_ref)
{
    static const struct {
        const char *ref, *name;
    } cases[] = {
        { "registry.example/org/app:1.2", "app-1.2" },
        { "app:latest", "app" },
        { "app", "app" },
        { "registry.example:5000/app", "app" },
        { "app@sha256:" HA, "app" },
        { "app:1.2@sha256:" HA, "app-1.2" },
        { "latest", NULL },               /* an OCI ref.name that is only a tag */
        { "1.2", "1.2" },
        { "org/.hidden:1", NULL },
        { "org/-dash", NULL },
        { "org/", NULL },
        { "", NULL },
        { "app:with space", NULL },
        { "app:a:b", NULL },              /* the second ':' stays */
        { "app:\x1b[31m", NULL },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *n = import_name_from_ref(cases[i].ref);
        if (cases[i].name)
            CHECK_STR(n, cases[i].name);
        else if (n) {
            fprintf(stderr, "  %s -> %s\n", cases[i].ref, n);
            CHECK(n == NULL);
        }
        free(n);
    }
    CHECK(import_name_from_ref(NULL) == NULL);
    char long_ref[200];
    memset(long_ref, 'a', sizeof long_ref - 1);
    long_ref[sizeof long_ref - 1] = '\0';
    CHECK(import_name_from_ref(long_ref) == NULL);
    long_ref[128] = '\0';
    char *n = import_name_from_ref(long_ref);
    CHECK(n && strlen(n) == 128);
    free(n);
}

int main(void)
{
    RUN(oci_plain);
    RUN(oci_nested);
    RUN(oci_refused);
    RUN(oci_too_many_layers);
    RUN(docker_plain);
    RUN(docker_refused);
    RUN(name_from_ref);
    return unit_done();
}
