/* test_import.c — keel import's plan readers (import_plan_oci,
 * import_plan_docker) over documents held in memory, and the default name
 * from a tag (import_name_from_ref): the edges of what an image's author
 * can write, and which platform's image of an index each build takes. */
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
#define HE H("ee")

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

/* Plans for PLATFORM ("linux/amd64" in most tests). */
static int plan_for(const char *platform, bool docker, const struct doc *d, struct import_plan *p, struct kerr *err,
                    char *asked, size_t n)
{
    struct docs ds = { .d = d };
    struct import_docs docs = { .read_json = serve, .ctx = &ds };
    struct import_platform want;
    memset(p, 0, sizeof *p);
    memset(err, 0, sizeof *err);
    if (import_platform_parse(platform, &want, err) < 0)
        return -999;
    int r = docker ? import_plan_docker(&docs, &want, p, err) : import_plan_oci(&docs, &want, p, err);
    if (asked)
        snprintf(asked, n, "%s", ds.asked);
    return r;
}

static int plan(bool docker, const struct doc *d, struct import_plan *p, struct kerr *err, char *asked, size_t n)
{
    return plan_for("linux/amd64", docker, d, p, err, asked, n);
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

/* --platform's forms, normalised as containerd does. */
TEST(platform_parse)
{
    static const struct {
        const char *in, *os, *arch, *variant;
    } ok[] = {
        { "linux/amd64", "linux", "amd64", "" },
        { "linux/x86_64", "linux", "amd64", "" },
        { "linux/x86-64", "linux", "amd64", "" },
        { "linux/amd64/v1", "linux", "amd64", "" },
        { "linux/amd64/v3", "linux", "amd64", "v3" },
        { "linux/arm64", "linux", "arm64", "" },
        { "linux/arm64/v8", "linux", "arm64", "" },
        { "linux/arm64/8", "linux", "arm64", "" },
        { "linux/aarch64", "linux", "arm64", "" },
        { "linux/arm64/v9", "linux", "arm64", "v9" },
        { "linux/arm/v7", "linux", "arm", "v7" },
        { "linux/v8/v8", "linux", "v8", "v8" },   /* only arm64's and amd64's baseline variants go */
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        struct import_platform p;
        struct kerr err = { 0 };
        CHECK_INT(import_platform_parse(ok[i].in, &p, &err), 0);
        CHECK_STR(p.os, ok[i].os);
        CHECK_STR(p.arch, ok[i].arch);
        CHECK_STR(p.variant, ok[i].variant);
    }
    static const char *const bad[] = {
        "", "linux", "linux/", "/amd64", "linux//v8", "linux/amd64/", "linux/arm64/v8/x", "linux/am d64",
        "linux/\x1b[31m", "linux/" "0123456789012345678901234567890123",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct import_platform p;
        struct kerr err = { 0 };
        CHECK_INT(import_platform_parse(bad[i], &p, &err), -EINVAL);
        CHECK(strstr(err.msg, "is not a platform OS/ARCH[/VARIANT]") != NULL);
    }
    /* A part of 31 bytes fits, 32 do not. */
    struct import_platform p;
    CHECK_INT(import_platform_parse("linux/0123456789012345678901234567890", &p, NULL), 0);
    CHECK_INT(import_platform_parse("linux/01234567890123456789012345678901", &p, NULL), -EINVAL);
#if defined(__x86_64__)
    CHECK_STR(IMPORT_PLATFORM_NATIVE, "linux/amd64");
#elif defined(__aarch64__)
    CHECK_STR(IMPORT_PLATFORM_NATIVE, "linux/arm64/v8");
#endif
}

#define PLATFORM(os, arch, extra) ",\"platform\":{\"os\":\"" os "\",\"architecture\":\"" arch "\"" extra "}"
#define MANIFEST_WITH_CONFIG(cfg) "{\"config\":" MANIFEST_DESC(cfg, 1, "") ",\"layers\":[]}"

/* A two-platform image: each build's default takes its own manifest, and
 * its config says the same; other names of the same platform match. */
TEST(oci_platforms)
{
    static const struct {
        const char *arm64_platform, *want, *digest;
    } cases[] = {
        { PLATFORM("linux", "arm64", ",\"variant\":\"v8\""), "linux/amd64", HA },       /* the x86-64 build's */
        { PLATFORM("linux", "arm64", ",\"variant\":\"v8\""), "linux/arm64/v8", HD },    /* the arm64 build's */
        { PLATFORM("linux", "arm64", ""), "linux/arm64/v8", HD },                       /* no variant: v8 */
        { PLATFORM("linux", "aarch64", ",\"variant\":\"\""), "linux/arm64", HD },
        { PLATFORM("linux", "arm64", ",\"variant\":\"v8\""), "linux/x86_64", HA },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *index = xasprintf("{\"manifests\":[%s%s%s,%s]}",
                                /* the arm64 entry first: order does not decide */
                                "{\"digest\":\"sha256:" HD "\",\"size\":1", cases[i].arm64_platform, "}",
                                MANIFEST_DESC(HA, 1, PLATFORM("linux", "amd64", "")));
        const struct doc d[] = {
            { "index.json", index },
            { "blobs/sha256/" HA, MANIFEST_WITH_CONFIG(HB) },
            { "blobs/sha256/" HB, "{\"os\":\"linux\",\"architecture\":\"amd64\"}" },
            { "blobs/sha256/" HD, MANIFEST_WITH_CONFIG(HE) },
            { "blobs/sha256/" HE, "{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}" },
            { NULL, NULL },
        };
        struct import_plan p;
        struct kerr err;
        CHECK_INT(plan_for(cases[i].want, false, d, &p, &err, NULL, 0), 0);
        CHECK_STR(p.digest, cases[i].digest);
        import_plan_free(&p);
        free(index);
    }
}

/* No manifest for the platform: refused with those the index has (never
 * another architecture's first entry), the author's text shown only when
 * plain; an entry with no platform is taken (a single-image layout). */
TEST(oci_platform_refused)
{
    static const struct {
        const char *want, *entries, *msg, *digest;
    } cases[] = {
        { "linux/amd64",
          MANIFEST_DESC(HD, 1, PLATFORM("linux", "arm64", ",\"variant\":\"v8\"")) ","
          MANIFEST_DESC(HC, 1, PLATFORM("linux", "s390x", "")),
          "the image has no linux/amd64 manifest, only linux/arm64/v8, linux/s390x (keel import --platform takes "
          "another)", NULL },
        { "linux/arm64/v8",
          MANIFEST_DESC(HA, 1, PLATFORM("linux", "amd64", "")) ","
          MANIFEST_DESC(HC, 1, PLATFORM("linux", "arm", ",\"variant\":\"v7\"")),
          "the image has no linux/arm64 manifest, only linux/amd64, linux/arm/v7 (keel import --platform takes "
          "another)", NULL },
        /* amd64/v3 needs a newer CPU than the baseline. */
        { "linux/amd64", MANIFEST_DESC(HA, 1, PLATFORM("linux", "amd64", ",\"variant\":\"v3\"")),
          "the image has no linux/amd64 manifest, only linux/amd64/v3 (keel import --platform takes another)", NULL },
        /* Attestations (buildx) name unknown/unknown. */
        { "linux/amd64", MANIFEST_DESC(HA, 1, PLATFORM("unknown", "unknown", "")),
          "the image has no linux/amd64 manifest, only unknown/unknown (keel import --platform takes another)", NULL },
        { "linux/amd64",
          MANIFEST_DESC(HA, 1, PLATFORM("\\u001b[31m", "arm 64", ",\"variant\":\"\"")) ","
          MANIFEST_DESC(HA, 1, ",\"platform\":{\"architecture\":\"amd64\"}"),
          "the image has no linux/amd64 manifest, only ?/?, ?/amd64 (keel import --platform takes another)", NULL },
        { "linux/amd64",
          MANIFEST_DESC(HD, 1, PLATFORM("linux", "arm64", "")) "," MANIFEST_DESC(HA, 1, ""),
          NULL, HA },
        { "linux/amd64", MANIFEST_DESC(HA, 1, ",\"platform\":null"), NULL, HA },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *index = xasprintf("{\"manifests\":[%s]}", cases[i].entries);
        const struct doc d[] = {
            { "index.json", index },
            { "blobs/sha256/" HA, MANIFEST_WITH_CONFIG(HB) },
            { "blobs/sha256/" HB, "{}" },
            { NULL, NULL },
        };
        struct import_plan p;
        struct kerr err;
        int r = plan_for(cases[i].want, false, d, &p, &err, NULL, 0);
        if (cases[i].msg) {
            CHECK_INT(r, -EINVAL);
            CHECK_STR(err.msg, cases[i].msg);
        } else {
            CHECK_INT(r, 0);
            CHECK_STR(p.digest, cases[i].digest);
        }
        import_plan_free(&p);
        free(index);
    }
    /* A long list is cut short, with "...". */
    char *index = strdup("{\"manifests\":[");
    for (int i = 0; index && i < 40; i++) {
        char *next = xasprintf("%s%s" MANIFEST_DESC(HD, 1, PLATFORM("linux", "riscv64", "")), index, i ? "," : "");
        free(index);
        index = next;
    }
    char *whole = index ? xasprintf("%s]}", index) : NULL;
    free(index);
    CHECK(whole != NULL);
    const struct doc d[] = { { "index.json", whole ? whole : "{}" }, { NULL, NULL } };
    struct import_plan p;
    struct kerr err;
    CHECK_INT(plan(false, d, &p, &err, NULL, 0), -EINVAL);
    CHECK(strstr(err.msg, "only linux/riscv64, linux/riscv64, ") != NULL);
    CHECK(strstr(err.msg, ", ... (keel import --platform takes another)") != NULL);
    import_plan_free(&p);
    free(whole);
}

/* The config's own platform, where it names one, is the wanted one too:
 * for both formats, whatever the index said. */
TEST(config_platform)
{
    static const struct {
        const char *want, *config, *msg;
    } cases[] = {
        { "linux/amd64", "{\"os\":\"linux\",\"architecture\":\"arm64\"}",
          "the image is for linux/arm64, not linux/amd64 (keel import --platform takes another)" },
        { "linux/arm64/v8", "{\"os\":\"linux\",\"architecture\":\"amd64\"}",
          "the image is for linux/amd64, not linux/arm64 (keel import --platform takes another)" },
        { "linux/amd64", "{\"os\":\"windows\",\"architecture\":\"amd64\"}",
          "the image is for windows/amd64, not linux/amd64 (keel import --platform takes another)" },
        { "linux/amd64", "{\"architecture\":\"amd64\",\"variant\":\"v3\"}",
          "the image is for linux/amd64/v3, not linux/amd64 (keel import --platform takes another)" },
        { "linux/amd64", "{\"architecture\":\"\\u001b]0;x\\u0007\"}",
          "the image is for linux/?, not linux/amd64 (keel import --platform takes another)" },
        { "linux/amd64", "{\"os\":\"linux\",\"architecture\":\"amd64\"}", NULL },
        { "linux/amd64", "{\"architecture\":\"x86_64\",\"variant\":\"v1\"}", NULL },
        { "linux/amd64", "{\"architecture\":7}", NULL },   /* not a name: as if absent */
        { "linux/amd64", "{\"os\":\"\",\"architecture\":\"\",\"variant\":\"\"}", NULL },   /* empty: the same */
        { "linux/arm64/v8", "{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}", NULL },
        { "linux/arm64/v8", "{\"architecture\":\"aarch64\"}", NULL },
        { "linux/arm/v7", "{\"architecture\":\"arm\"}", NULL },   /* the config's variant is optional */
        { "linux/arm64/v8", "{}", NULL },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
        for (int docker = 0; docker < 2; docker++) {
            const struct doc d[] = {
                { "index.json", "{\"manifests\":[" MANIFEST_DESC(HA, 1, "") "]}" },
                { "blobs/sha256/" HA, MANIFEST_WITH_CONFIG(HB) },
                { "manifest.json", "[{\"Config\":\"blobs/sha256/" HB "\",\"Layers\":[]}]" },
                { "blobs/sha256/" HB, cases[i].config },
                { NULL, NULL },
            };
            struct import_plan p;
            struct kerr err;
            int r = plan_for(cases[i].want, docker, d, &p, &err, NULL, 0);
            if (cases[i].msg) {
                CHECK_INT(r, -EINVAL);
                CHECK_STR(err.msg, cases[i].msg);
            } else {
                CHECK_INT(r, 0);
                if (r < 0)
                    fprintf(stderr, "  %s %s: %s\n", cases[i].want, cases[i].config, err.msg);
            }
            import_plan_free(&p);
        }
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

/* The config's strings go into the .image and from there into messages
 * shown on a terminal: a control character (an escape sequence's ESC, a
 * newline that would end the .image's line) is refused; tab and UTF-8 text
 * are kept. */
TEST(config_text)
{
    static const struct {
        const char *config;
        bool ok;
    } cases[] = {
        { "{\"config\":{\"Env\":[\"A=b\\tc\"],\"WorkingDir\":\"/caf\\u00e9\"}}", true },
        { "{\"config\":{\"Env\":[\"A=\\u001b]2;owned\\u0007\"]}}", false },
        { "{\"config\":{\"Entrypoint\":[\"\\u001b[2Jsh\"]}}", false },
        { "{\"config\":{\"Cmd\":[\"a\\nb\"]}}", false },
        { "{\"config\":{\"User\":\"1000\\r\"}}", false },
        { "{\"config\":{\"WorkingDir\":\"/a\\u007f\"}}", false },
        { "{\"config\":{\"StopSignal\":\"\\u009bTERM\"}}", false },   /* C1: CSI */
        { "{\"config\":{\"ExposedPorts\":{\"80/tcp\\u001b\":{}}}}", false },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct json_value *root = NULL;
        struct kerr err = { 0 };
        struct image img = { 0 };
        int r = json_parse(cases[i].config, strlen(cases[i].config), 4096, &root, &err);
        CHECK_INT(r, 0);
        if (r == 0)
            r = import_read_config(root, &img, &err);
        CHECK_INT(r, cases[i].ok ? 0 : -EINVAL);
        if (r < 0 && cases[i].ok)
            fprintf(stderr, "  %s: %s\n", cases[i].config, err.msg);
        image_free(&img);
        json_free(root);
    }
}

int main(void)
{
    RUN(oci_plain);
    RUN(oci_nested);
    RUN(oci_refused);
    RUN(oci_too_many_layers);
    RUN(platform_parse);
    RUN(oci_platforms);
    RUN(oci_platform_refused);
    RUN(config_platform);
    RUN(docker_plain);
    RUN(docker_refused);
    RUN(name_from_ref);
    RUN(config_text);
    return unit_done();
}
